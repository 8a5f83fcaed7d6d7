"""Rules: the YAML rule language, its loader and validator, its evaluator."""
