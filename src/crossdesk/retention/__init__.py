"""Retention and marketing intelligence: segments, lifetime value, churn risk and recommendations."""
