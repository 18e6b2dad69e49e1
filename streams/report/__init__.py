"""The transparency report's pure core: aggregation and small-cell suppression."""
