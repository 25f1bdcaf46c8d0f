"""Names shared by the resample step's declaration and its kernels (no heavy imports)."""

__all__ = ["KERNELS", "VARIANCE_NAMES"]

#: Drizzle kernels offered by the official step.
KERNELS = ("square", "gaussian", "point", "turbo", "lanczos2", "lanczos3")

#: Variance planes of a product, in the order they are resampled.
VARIANCE_NAMES = ("var_rnoise", "var_flat", "var_poisson")
