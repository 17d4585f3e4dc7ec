"""The refusal model: logistic regression on standardised signals, P(answerable) < THRESHOLD refuses.

Fitted by evals/fit_refusal.py (numpy IRLS, L2 = 1.0) on 706 labelled questions; the threshold keeps
false refusals of answerable fitting questions ≤ 1% (raised to 0.30 by --threshold: see docs/refusal.md). Refit
(docs/refusal.md).
"""

FEATURES = ('dense_top', 'bm25_top', 'passage_cover', 'sentence_cover', 'missing_share', 'specific_share', 'agree')
MEAN = (0.8326, 1.7544, 0.5128, 0.4671, 0.2831, 0.1154, 0.3954)
SCALE = (0.0459, 0.7313, 0.3445, 0.3253, 0.4040, 0.2384, 0.4889)
COEF = (0.7854, 0.3044, 2.2642, -0.4450, -2.0986, 0.6659, -0.1105)
INTERCEPT = -1.3574
THRESHOLD = 0.3000
