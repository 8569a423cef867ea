"""Retention and marketing intelligence: segments, lifetime value, churn, recommendations."""
