"""Shared helpers: readout patterns, subarray geometry, reference-file cutting."""
