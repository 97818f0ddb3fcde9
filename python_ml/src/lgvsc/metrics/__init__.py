# SPDX-License-Identifier: GPL-3.0-or-later
"""Video quality metrics. Pixel metrics (PSNR, SSIM) are always available; model-based
ones (CLIP score, LPIPS, DISTS) need local weights and are reported unavailable without them."""
