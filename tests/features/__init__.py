"""Tests of labelwise.features."""
