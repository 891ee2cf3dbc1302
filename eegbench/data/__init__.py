"""Datasets: recipes, readers, standardization into windows, the content-addressed cache."""
