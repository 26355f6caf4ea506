"""One module per verb (or small group of verbs); each exposes Command factories."""
