"""FOMM's training losses equal values computed independently, on tiny tensors.

Every expected number is computed here, in float64 numpy, from the definitions of the
FOMM paper (Siarohin et al. 2019, Sec. 3.3) with the original implementation's
conventions: an image pyramid of Gaussian-blurred (sigma = (1/s - 1) / 2, kernel
2 round(4 sigma) + 1, zero padding) and sub-sampled copies; VGG19 features relu1_1,
relu2_1, relu3_1, relu4_1, relu5_1 on ImageNet-normalised input, L1 per level, weighted,
summed over scales, real side without gradient; equivariance with a warp
T(p) = A p + t + sum_k w_k U(|p - c_k|_1) (the scalar added to both coordinates,
U(r) = r^2 log(r + 1e-6), control points on a regular grid, x varying fastest):
value L1 |kp(D) - T(kp(T^-1 D))| and jacobian L1 |I - J(D)^-1 dT J(T^-1 D)|; LSGAN
generator (1 - D(fake))^2, discriminator (1 - D(real))^2 + D(fake)^2, feature matching
L1 per discriminator block; each a mean over all elements.

A few cases are small enough to work out on paper (the numbers are in the comments).
No expected value calls the loss code under test.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
import paddle
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from ppgan_fom.training import losses as L
from ppgan_fom.training.tps import RandomTPS
from ppgan_fom.training.train_config import TransformConfig

RTOL = 2e-5


def t(x) -> "paddle.Tensor":
    return paddle.to_tensor(np.asarray(x, np.float32))


def close(got, want, rtol=RTOL, atol=1e-7):
    np.testing.assert_allclose(float(got), float(want), rtol=rtol, atol=atol)


# =========================================================================== #
# numpy references
# =========================================================================== #
def gaussian_np(scale: float) -> np.ndarray:
    sigma = (1.0 / scale - 1.0) / 2.0
    size = 2 * int(round(4 * sigma)) + 1
    ax = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-ax ** 2 / (2 * sigma ** 2))
    k = np.outer(g, g)
    return k / k.sum()


def downsample_np(x: np.ndarray, scale: float) -> np.ndarray:
    """(B, C, H, W): blur (zero padding ka / kb) then keep every (1/scale)-th pixel."""
    if scale == 1:
        return np.asarray(x, np.float64)
    k = gaussian_np(scale)
    size = k.shape[0]
    ka = size // 2
    kb = ka - 1 if size % 2 == 0 else ka
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (ka, kb), (ka, kb)))
    win = sliding_window_view(xp, (size, size), axis=(2, 3))
    step = int(round(1 / scale))
    return np.tensordot(win, k, axes=([4, 5], [0, 1]))[:, :, ::step, ::step]


def pyramid_np(x: np.ndarray, scales: Sequence[float]) -> Dict[float, np.ndarray]:
    return {float(s): downsample_np(x, s) for s in scales}


VGG_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512]
VGG_TAPS = (0, 2, 4, 8, 12)  # conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 (after ReLU)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)


def vgg_weights(seed: int = 0) -> Tuple[dict, List[Tuple[np.ndarray, np.ndarray]]]:
    """Random VGG19 conv weights (He-scaled so activations stay alive): the state dict in
    torchvision / Paddle numbering (``features.<i>.weight``) and the list of convs."""
    rng = np.random.default_rng(seed)
    state, convs, c_in, idx = {}, [], 3, 0
    for item in VGG_LAYOUT:
        if item == "M":
            idx += 1
            continue
        w = rng.normal(0, np.sqrt(2.0 / (9 * c_in)), (item, c_in, 3, 3)).astype(np.float32)
        b = rng.normal(0, 0.05, item).astype(np.float32)
        state[f"features.{idx}.weight"], state[f"features.{idx}.bias"] = w, b
        convs.append((w.astype(np.float64), b.astype(np.float64)))
        c_in, idx = item, idx + 2  # conv, relu
    return state, convs


def conv3x3_np(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    win = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))
    return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + \
        b[None, :, None, None]


def vgg_np(x: np.ndarray, convs, levels: int) -> List[np.ndarray]:
    out, feats, conv_i = (np.asarray(x, np.float64) - IMAGENET_MEAN) / IMAGENET_STD, [], 0
    for item in VGG_LAYOUT:
        if len(feats) == levels:
            break
        if item == "M":
            b, c, h, w = out.shape
            out = out.reshape(b, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
            continue
        out = np.maximum(conv3x3_np(out, *convs[conv_i]), 0.0)
        if conv_i in VGG_TAPS:
            feats.append(out)
        conv_i += 1
    return feats


def perceptual_np(convs, pred: Dict[float, np.ndarray], real: Dict[float, np.ndarray],
                  weights: Sequence[float]) -> float:
    levels = len(weights)
    total = 0.0
    for s in pred:
        for w, a, b in zip(weights, vgg_np(pred[s], convs, levels), vgg_np(real[s], convs, levels)):
            total += w * np.abs(a - b).mean()
    return total


def control_grid_np(n: int) -> np.ndarray:
    """(n*n, 2) control points (x, y) on [-1, 1]^2, x varying fastest."""
    v = np.linspace(-1, 1, n)
    return np.array([(x, y) for y in v for x in v])


def warp_np(p: np.ndarray, theta: np.ndarray, params: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """T for one batch element: p (N, 2) -> (N, 2)."""
    out = p @ theta[:, :2].T + theta[:, 2]
    if params is not None:
        r = np.abs(p[:, None, :] - ctrl[None]).sum(-1)  # (N, P) L1 distances
        out = out + ((r ** 2 * np.log(r + 1e-6)) * params[None]).sum(-1, keepdims=True)
    return out


def jacobian_fd(p: np.ndarray, theta, params, ctrl, h: float = 1e-6) -> np.ndarray:
    """dT/dp by central differences: (N, 2, 2), J[:, i, j] = dT_i / dp_j."""
    cols = []
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        cols.append((warp_np(p + e, theta, params, ctrl) - warp_np(p - e, theta, params, ctrl))
                    / (2 * h))
    return np.stack(cols, axis=-1)


def make_tps(theta: np.ndarray, params=None, points: int = 0) -> RandomTPS:
    """A RandomTPS whose affine part (B, 2, 3) and TPS weights (B, P) are set by hand."""
    cfg = TransformConfig(sigma_affine=0.1, sigma_tps=0.1 if params is not None else 0.0,
                          points_tps=points if params is not None else 0)
    tps = RandomTPS(len(theta), cfg, np.random.default_rng(0))
    tps.theta = t(theta)
    if params is not None:
        tps.control_params = t(np.asarray(params)[:, None, :])
    return tps


# =========================================================================== #
# pyramid and pixel loss
# =========================================================================== #
def test_gaussian_kernel_is_fomms():
    # scale 0.5: sigma 0.5, 5 taps; scale 0.25: sigma 1.5, 13 taps
    assert gaussian_np(0.5).shape == (5, 5) and gaussian_np(0.25).shape == (13, 13)
    g = np.exp(-np.array([4.0, 1.0, 0.0, 1.0, 4.0]) / 0.5)
    np.testing.assert_allclose(gaussian_np(0.5), np.outer(g, g) / g.sum() ** 2)


def test_image_pyramid_equals_numpy():
    x = np.random.default_rng(1).random((2, 3, 32, 32))
    got = L.ImagePyramid((1, 0.5, 0.25), 3)(t(x))
    want = pyramid_np(x, (1, 0.5, 0.25))
    assert list(got) == [1.0, 0.5, 0.25]
    for s in want:
        assert tuple(got[s].shape) == want[s].shape
        np.testing.assert_allclose(got[s].numpy(), want[s], rtol=1e-5, atol=1e-6)


def test_pixel_pyramid_loss_by_hand_and_numpy():
    # by hand: scale 1 differs by 0.5 everywhere, scale 0.5 by 0.25 on half the pixels
    pred = {1.0: t(np.full((1, 1, 2, 2), 0.5)), 0.5: t([[[[0.25, 0.0]]]])}
    real = {1.0: t(np.zeros((1, 1, 2, 2))), 0.5: t([[[[0.0, 0.0]]]])}
    close(L.pixel_pyramid_loss(pred, real, [10, 4]), 10 * 0.5 + 4 * 0.125)
    close(L.pixel_pyramid_loss(pred, real, [0, 4]), 4 * 0.125)  # weight 0: scale skipped
    rng = np.random.default_rng(2)
    a, b = rng.random((2, 3, 16, 16)), rng.random((2, 3, 16, 16))
    pa, pb = pyramid_np(a, (1, 0.5)), pyramid_np(b, (1, 0.5))
    want = 3 * np.abs(pa[1] - pb[1]).mean() + 7 * np.abs(pa[0.5] - pb[0.5]).mean()
    close(L.pixel_pyramid_loss({s: t(v) for s, v in pa.items()},
                               {s: t(v) for s, v in pb.items()}, [3, 7]), want)


# =========================================================================== #
# perceptual (VGG19 with known weights)
# =========================================================================== #
@pytest.fixture(scope="module")
def vgg():
    from ppgan_fom.training.vgg import load_vgg19

    state, convs = vgg_weights()
    return load_vgg19("vgg19", num_outputs=5, state=state), convs


def test_vgg19_features_equal_numpy(vgg):
    net, convs = vgg
    x = np.random.default_rng(3).random((2, 3, 32, 32))
    got = net(t(x))
    want = vgg_np(x, convs, 5)
    assert [tuple(g.shape) for g in got] == [w.shape for w in want] == \
        [(2, 64, 32, 32), (2, 128, 16, 16), (2, 256, 8, 8), (2, 512, 4, 4), (2, 512, 2, 2)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-4, atol=1e-4 * np.abs(w).max())


def test_perceptual_pyramid_loss_equals_numpy(vgg):
    net, convs = vgg
    rng = np.random.default_rng(4)
    pred_np = {1.0: rng.random((2, 3, 32, 32)), 0.5: rng.random((2, 3, 16, 16))}
    real_np = {1.0: rng.random((2, 3, 32, 32)), 0.5: rng.random((2, 3, 16, 16))}
    weights = [1.0, 2.0, 0.0, 4.0, 0.5]
    pred = {s: t(v) for s, v in pred_np.items()}
    real = {s: t(v) for s, v in real_np.items()}
    for v in (*pred.values(), *real.values()):
        v.stop_gradient = False
    loss = L.perceptual_pyramid_loss(net, pred, real, weights)
    close(loss, perceptual_np(convs, pred_np, real_np, weights), rtol=1e-4)
    # the real images are the target: no gradient reaches them
    loss.backward()
    assert all(v.grad is not None and float(v.grad.abs().sum()) > 0 for v in pred.values())
    assert all(v.grad is None or float(v.grad.abs().sum()) == 0 for v in real.values())


# =========================================================================== #
# equivariance
# =========================================================================== #
def test_equivariance_by_hand_affine():
    # T(p) = (2x, y). kp(T^-1 D) = (0.1, 0.2) maps to (0.2, 0.2); kp(D) = (0.25, 0.2):
    # |diff| = (0.05, 0) -> mean 0.025
    tps = make_tps(np.array([[[2.0, 0, 0], [0, 1.0, 0]]]))
    kp_t = {"value": t([[[0.1, 0.2]]]), "jacobian": t([[np.eye(2)]])}
    kp_d = {"value": t([[[0.25, 0.2]]]), "jacobian": t([[np.eye(2)]])}
    close(L.equivariance_value_loss(kp_d, kp_t, tps), 0.025)
    # dT = diag(2, 1), J_t = I, J_d = I: I - diag(2, 1) = diag(-1, 0) -> mean |.| 0.25
    close(L.equivariance_jacobian_loss(kp_d, kp_t, tps), 0.25)
    # J_d = diag(2, 1) matches the warp: loss 0
    kp_d["jacobian"] = t([[np.diag([2.0, 1.0])]])
    close(L.equivariance_jacobian_loss(kp_d, kp_t, tps), 0.0, atol=1e-7)


def test_equivariance_by_hand_tps_term():
    # A = I, t = 0, one TPS weight on a 2x2 grid (controls (-1,-1), (1,-1), (-1,1), (1,1)):
    # w = 0.5 on (1, 1). At p = (0, 0): r = |0-1| + |0-1| = 2, U = 4 log 2 = 2.7726,
    # T(p) = (1.3863, 1.3863).
    tps = make_tps(np.array([[[1.0, 0, 0], [0, 1.0, 0]]]), params=[[0, 0, 0, 0.5]], points=2)
    kp_t = {"value": t([[[0.0, 0.0]]]), "jacobian": t([[np.eye(2)]])}
    kp_d = {"value": t([[[0.0, 0.0]]]), "jacobian": t([[np.eye(2)]])}
    close(L.equivariance_value_loss(kp_d, kp_t, tps), 0.5 * 4 * np.log(2 + 1e-6), rtol=1e-5)
    # dU/dp_x = U'(r) sign(0 - 1) = -(2 r log r + r) = -(4 log 2 + 2), same for p_y, times
    # w = 0.5 -> every entry of dT - I is -(2 log 2 + 1) = -2.3863
    close(L.equivariance_jacobian_loss(kp_d, kp_t, tps), 2 * np.log(2) + 1, rtol=1e-5)


def test_equivariance_losses_equal_numpy_with_tps():
    rng = np.random.default_rng(5)
    b, k, n = 3, 6, 3
    theta = np.eye(2, 3)[None] + rng.normal(0, 0.1, (b, 2, 3))
    params = rng.normal(0, 0.05, (b, n * n))
    tps = make_tps(theta, params, points=n)
    v_t, v_d = rng.uniform(-0.9, 0.9, (b, k, 2)), rng.uniform(-0.9, 0.9, (b, k, 2))
    j_t, j_d = rng.normal(0, 0.5, (b, k, 2, 2)) + np.eye(2), rng.normal(0, 0.5, (b, k, 2, 2)) + \
        np.eye(2)
    ctrl = control_grid_np(n)
    warped = np.stack([warp_np(v_t[i], theta[i], params[i], ctrl) for i in range(b)])
    want_value = np.abs(v_d - warped).mean()
    d_t = np.stack([jacobian_fd(v_t[i], theta[i], params[i], ctrl) for i in range(b)])
    prod = np.linalg.inv(j_d) @ (d_t @ j_t)
    want_jac = np.abs(np.eye(2) - prod).mean()
    kp_t = {"value": t(v_t), "jacobian": t(j_t)}
    kp_d = {"value": t(v_d), "jacobian": t(j_d)}
    close(L.equivariance_value_loss(kp_d, kp_t, tps), want_value, rtol=1e-5)
    close(L.equivariance_jacobian_loss(kp_d, kp_t, tps), want_jac, rtol=1e-4)
    # the warp and its jacobian themselves
    np.testing.assert_allclose(tps.warp_coordinates(t(v_t)).numpy(), warped, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(tps.jacobian(t(v_t)).numpy(), d_t, rtol=1e-4, atol=1e-5)


def test_transform_frame_one_pixel_shift_with_reflection():
    """Output pixel p shows the input at T(p): a shift of one pixel step in x (2 / (W-1))
    moves the image one column left; the last column reflects to column W-2."""
    w = 5
    img = np.arange(2 * 4 * w, dtype=np.float64).reshape(2, 1, 4, w)
    tps = make_tps(np.array([[[1.0, 0, 2 / (w - 1)], [0, 1.0, 0]],
                             [[1.0, 0, 0], [0, 1.0, -2 / 3]]]))  # 2nd: reads one row up (H = 4)
    out = tps.transform_frame(t(img)).numpy()
    want0 = np.concatenate([img[0, :, :, 1:], img[0, :, :, w - 2:w - 1]], axis=-1)
    want1 = np.concatenate([img[1, :, 1:2, :], img[1, :, :-1, :]], axis=-2)
    np.testing.assert_allclose(out[0], want0, atol=1e-4)
    np.testing.assert_allclose(out[1], want1, atol=1e-4)


# =========================================================================== #
# GAN terms
# =========================================================================== #
def maps(features: Sequence[np.ndarray], pred: np.ndarray):
    return [t(f) for f in features], t(pred)


def test_gan_losses_by_hand():
    # one scale, D map (0.5, 1.5) on fakes, (1.0, 0.0) on reals
    fake = {1.0: maps([np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])], [[0.5, 1.5]])}
    real = {1.0: maps([np.array([[1.0, 1.0]]), np.array([[3.0, -1.0]])], [[1.0, 0.0]])}
    # generator: 2 * mean((1 - 0.5)^2, (1 - 1.5)^2) = 2 * 0.25
    close(L.generator_gan_loss(fake, 2.0), 0.5)
    # discriminator: 3 * mean(((1-1)^2 + 0.5^2), ((1-0)^2 + 1.5^2)) = 3 * (0.25 + 3.25) / 2
    close(L.discriminator_gan_loss(real, fake, 3.0), 5.25)
    # feature matching: 10 * mean(|1-1|, |1-2|) + 5 * mean(|3-0|, |-1-0|) = 5 + 10
    close(L.feature_matching_loss(real, fake, [10, 5]), 15.0)
    close(L.feature_matching_loss(real, fake, [0, 5]), 10.0)


def test_gan_losses_equal_numpy_two_scales():
    rng = np.random.default_rng(6)
    shapes = {1.0: [(2, 4, 7, 7), (2, 8, 3, 3)], 0.5: [(2, 4, 3, 3), (2, 8, 1, 1)]}
    fake_np = {s: ([rng.normal(size=sh) for sh in shp], rng.normal(size=(2, 1, 2, 2)))
               for s, shp in shapes.items()}
    real_np = {s: ([rng.normal(size=sh) for sh in shp], rng.normal(size=(2, 1, 2, 2)))
               for s, shp in shapes.items()}
    fake = {s: maps(*v) for s, v in fake_np.items()}
    real = {s: maps(*v) for s, v in real_np.items()}
    w_fm = [3.0, 0.5]
    want_g = sum(0.7 * ((1 - fake_np[s][1]) ** 2).mean() for s in shapes)
    want_d = sum(1.3 * ((1 - real_np[s][1]) ** 2 + fake_np[s][1] ** 2).mean() for s in shapes)
    want_fm = sum(w * np.abs(a - b).mean() for s in shapes
                  for w, a, b in zip(w_fm, real_np[s][0], fake_np[s][0]))
    close(L.generator_gan_loss(fake, 0.7), want_g)
    close(L.discriminator_gan_loss(real, fake, 1.3), want_d)
    close(L.feature_matching_loss(real, fake, w_fm), want_fm)


# =========================================================================== #
# the losses as the training step computes them (GeneratorFullModel wiring)
# =========================================================================== #
TINY = {
    "model": {
        "common_params": {"num_kp": 4, "num_channels": 3, "estimate_jacobian": True},
        "generator": {
            "kp_detector_cfg": {"temperature": 0.1, "block_expansion": 8, "max_features": 32,
                                "scale_factor": 0.5, "num_blocks": 3},
            "generator_cfg": {"block_expansion": 8, "max_features": 32, "num_down_blocks": 2,
                              "num_bottleneck_blocks": 1, "estimate_occlusion_map": True,
                              "dense_motion_params": {"block_expansion": 8, "max_features": 32,
                                                      "num_blocks": 3, "scale_factor": 0.5}}},
        "discriminator": {"discriminator_cfg": {"scales": [1], "block_expansion": 8,
                                                "max_features": 32, "num_blocks": 3}},
        "train_params": {
            "scales": [1, 0.5],
            "transform_params": {"sigma_affine": 0.05, "sigma_tps": 0.005, "points_tps": 5},
            "loss_weights": {"generator_gan": 1.5, "discriminator_gan": 0.8,
                             "feature_matching": [2, 0, 3], "perceptual": [1, 0, 2],
                             "pixel_l1": [3, 5], "equivariance_value": 10,
                             "equivariance_jacobian": 7}}},
    "dataset": {"train": {"frame_shape": [32, 32, 3], "batch_size": 2}},
}


def test_generator_full_model_losses_equal_numpy():
    from ppgan_fom.model import build_fomm
    from ppgan_fom.training.discriminator import MultiScaleDiscriminator
    from ppgan_fom.training.full_model import DiscriminatorFullModel, GeneratorFullModel
    from ppgan_fom.training.train_config import train_config_from_dict
    from ppgan_fom.training.vgg import load_vgg19

    state, convs = vgg_weights(seed=7)
    net = load_vgg19("vgg19", num_outputs=3, state=state)
    tc = train_config_from_dict(TINY)
    lw = tc.loss_weights
    paddle.seed(0)
    gen, kp_det = build_fomm(tc.model, inference=False)
    disc = MultiScaleDiscriminator(3, tc.model.num_kp, tc.discriminator)
    full = GeneratorFullModel(kp_det, gen, tc, net)
    rng = np.random.default_rng(8)
    src_np, drv_np = rng.random((2, 3, 32, 32)), rng.random((2, 3, 32, 32))
    tps = RandomTPS(2, tc.transform, np.random.default_rng(9))
    losses, out = full(t(src_np), t(drv_np), tps, disc)
    assert set(losses) == {"perceptual", "pixel_l1", "gen_gan", "feature_matching",
                           "equivariance_value", "equivariance_jacobian"}

    pred_pyr = pyramid_np(out["prediction"].numpy(), tc.scales)
    real_pyr = pyramid_np(drv_np, tc.scales)
    close(losses["perceptual"], perceptual_np(convs, pred_pyr, real_pyr, lw.perceptual),
          rtol=1e-4)
    close(losses["pixel_l1"], sum(w * np.abs(pred_pyr[s] - real_pyr[s]).mean()
                                  for s, w in zip(tc.scales, lw.pixel_l1)), rtol=1e-4)

    # GAN terms on the discriminator's outputs for the (own numpy) pyramids
    kp_d = {k: v.detach() for k, v in out["kp_driving"].items()}
    with paddle.no_grad():
        fake = disc({s: t(v) for s, v in pred_pyr.items()}, kp=kp_d)
        real = disc({s: t(v) for s, v in real_pyr.items()}, kp=kp_d)
    fake = {s: ([f.numpy() for f in fs], m.numpy()) for s, (fs, m) in fake.items()}
    real = {s: ([f.numpy() for f in fs], m.numpy()) for s, (fs, m) in real.items()}
    close(losses["gen_gan"], sum(lw.generator_gan * ((1 - fake[s][1]) ** 2).mean()
                                 for s in fake), rtol=1e-4)
    close(losses["feature_matching"],
          sum(w * np.abs(a - b).mean() for s in fake
              for w, a, b in zip(lw.feature_matching, real[s][0], fake[s][0])), rtol=1e-4)

    # equivariance: kp(D) against the warped kp(T^-1 D) of the transformed frame
    theta = tps.theta.numpy().astype(np.float64)
    params = tps.control_params.numpy()[:, 0].astype(np.float64)
    ctrl = control_grid_np(tc.transform.points_tps)
    v_d = out["kp_driving"]["value"].numpy().astype(np.float64)
    j_d = out["kp_driving"]["jacobian"].numpy().astype(np.float64)
    v_t = out["transformed_kp"]["value"].numpy().astype(np.float64)
    j_t = out["transformed_kp"]["jacobian"].numpy().astype(np.float64)
    warped = np.stack([warp_np(v_t[i], theta[i], params[i], ctrl) for i in range(2)])
    close(losses["equivariance_value"], lw.equivariance_value * np.abs(v_d - warped).mean(),
          rtol=1e-4)
    d_t = np.stack([jacobian_fd(v_t[i], theta[i], params[i], ctrl) for i in range(2)])
    close(losses["equivariance_jacobian"], lw.equivariance_jacobian *
          np.abs(np.eye(2) - np.linalg.inv(j_d) @ (d_t @ j_t)).mean(), rtol=1e-3)
    # the transformed frame is the driving frame warped by this T (kp from that frame)
    with paddle.no_grad():
        again = kp_det(tps.transform_frame(t(drv_np)))["value"].numpy()
    np.testing.assert_allclose(again, v_t, rtol=1e-4, atol=1e-5)

    # discriminator side
    d_losses = DiscriminatorFullModel(disc, tc)(t(drv_np), out["prediction"], out["kp_driving"])
    close(d_losses["disc_gan"], sum(lw.discriminator_gan * ((1 - real[s][1]) ** 2 +
                                                            fake[s][1] ** 2).mean()
                                    for s in fake), rtol=1e-4)
