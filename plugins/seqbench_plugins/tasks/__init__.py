"""Built-in plugins; each module is registered as its own plugin."""
