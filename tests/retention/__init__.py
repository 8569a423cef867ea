"""Tests of retention and marketing intelligence."""
