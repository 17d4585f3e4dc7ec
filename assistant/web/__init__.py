"""The web adapters: the JSON API and the Gradio chat, on the service."""
