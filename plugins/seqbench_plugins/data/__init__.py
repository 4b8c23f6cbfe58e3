"""Data files shipped with the built-in plugins (one sub-package per data set)."""
