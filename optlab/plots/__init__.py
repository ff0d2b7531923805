"""Figures as functions of DataFrames. Never imports JAX; never runs an algorithm."""
