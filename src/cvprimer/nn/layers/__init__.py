"""Layers by family; everything is re-exported from :mod:`cvprimer.nn`."""
