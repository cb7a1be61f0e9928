"""``paddle.fluid.layers.nn`` stand-in written for the ppgan reference harness."""
import paddle


def resize_nearest(input, out_shape=None, scale=None, name=None, **kwargs):
    """Integer-factor nearest downsampling of an NCHW tensor.

    Only the case ppgan's AntiAliasInterpolation2d needs is supported:
    ``scale`` = 1/k for an integer k >= 1.  The result keeps every k-th row
    and column starting at index 0 (``input[:, :, ::k, ::k]``).
    """
    if out_shape is not None or scale is None:
        raise NotImplementedError(
            "fluid_shim.resize_nearest only supports scale=1/k (got out_shape=%r, scale=%r)"
            % (out_shape, scale))
    if kwargs.get("data_format", "NCHW") != "NCHW":
        raise NotImplementedError("fluid_shim.resize_nearest only supports NCHW")
    inv = 1.0 / float(scale)
    step = int(round(inv))
    if step < 1 or abs(inv - step) > 1e-6:
        raise NotImplementedError(
            "fluid_shim.resize_nearest needs 1/scale to be an integer, got scale=%r" % (scale,))
    if step == 1:
        return input
    return input[:, :, ::step, ::step]


def soft_relu(x, threshold=40.0, name=None):
    """log(1 + exp(clip(x, -threshold, threshold))), as the legacy fluid op defined it.

    Only imported (never called) by ppgan's StarGAN v2 model; provided so
    that ``import ppgan.models`` succeeds.
    """
    t = float(threshold)
    return paddle.log1p(paddle.exp(paddle.clip(x, -t, t)))
