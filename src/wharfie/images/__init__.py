"""The image service: load, save, import, tag, remove, prune, history, inspect."""
