"""The knowledge base: loading, chunking, embedding and storing sources; the refresh."""
