"""Numerics on feature vectors, independent of runs and configs: exact KNN, probes, zero-shot scoring,
intervals and paired tests (`stats`), domain-gap measures, attribution, and the pictures drawn from them."""
