"""Pruning methods: one module per slug, discovered by bench.registry."""
