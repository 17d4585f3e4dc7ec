"""From a question to a cited answer: retrieval, follow-ups, evidence, answerers, verification."""
