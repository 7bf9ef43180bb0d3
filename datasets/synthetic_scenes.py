"""Procedural indoor scenes for the embedded synthetic datasets (docs/protocol.md §7 "Synthetic").

A scene is a box room (floor, ceiling, back and side walls) seen by a pinhole camera standing
near its front, with furniture in it (datasets/synthetic_furniture.py). Every pixel is
ray-cast analytically (datasets/synthetic_geometry.py), so depth, normals and labels agree
exactly. RGB = albedo (class colour × procedural texture) × Lambertian shading from one light ×
distance fall-off, + sensor noise, so colour carries normal and some depth information.

Conventions:
- Camera frame x right, y down, z forward (OpenCV). `depth_zbuffer` is the z coordinate of the
  hit point in metres (a z-buffer, not the ray length), about 1-9.
- Normals: unit vectors in the camera frame, facing the camera (floor: n_y < 0, since y is down).
- Invalid depth and normal (0 / all-zero): windows (glass returns nothing) and now and then an
  elliptic "missing sensor" patch. Segmentation 255 (ignore): a random fraction of the pixels
  on class boundaries, as hand labelling leaves them.
- `edge_texture` (Sobel gradient magnitude) and `keypoints2d` (Harris corner response) are
  computed from the noise-free rendered luminance, as Taskonomy's are 2-D image operators
  (datasets/synthetic_maps.py), then clipped and rescaled to [-1, 1] (docs/protocol.md §1).

A scene depends only on the numpy Generator it is given; procedural textures use an integer
hash, so the same seed gives the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datasets.synthetic_furniture import (
    CEILING,
    CLASS_NAMES,
    FLOOR,
    NUM_CLASSES,
    WALL,
    Solid,
    add_furniture,
    jitter,
)
from datasets.synthetic_geometry import (
    Room,
    camera_rays,
    hash01,
    ray_room,
    rotation_x,
    rotation_y,
    rotation_z,
)
from datasets.synthetic_maps import boundary_ignore, edge_map, keypoint_map

__all__ = ["CLASS_NAMES", "NUM_CLASSES", "focal_length", "render_scene", "sample_scene"]

HFOV_DEGREES = 60.0
# Class of each room surface, in the order of synthetic_geometry.ROOM_SURFACES.
_ROOM_CLASSES = np.array([WALL, WALL, CEILING, FLOOR, WALL], dtype=np.uint8)
_NOISE_STD = 0.015


def focal_length(width: int) -> float:
    return width / (2.0 * np.tan(np.radians(HFOV_DEGREES) / 2.0))


@dataclass
class Scene:
    room: Room
    rot: np.ndarray
    light: np.ndarray
    ambient: float
    falloff: float
    exposure: float
    tint: np.ndarray
    floor_style: int
    floor_scale: float
    colors: dict[str, np.ndarray]
    stripes: tuple[float, float]  # wallpaper period (m) and contrast; contrast 0 = plain
    baseboard: float  # height in m
    windows: list[tuple[int, float, float, float, float]] = field(default_factory=list)
    solids: list[Solid] = field(default_factory=list)


def sample_scene(rng: np.random.Generator) -> Scene:
    cam_height = rng.uniform(1.0, 1.6)
    room = Room(left=rng.uniform(1.3, 3.0), right=rng.uniform(1.3, 3.0),
                ceiling=rng.uniform(2.5, 3.2) - cam_height, floor=cam_height,
                back=rng.uniform(3.5, 8.0))
    rot = rotation_y(rng.uniform(-0.4, 0.4)) @ rotation_x(-rng.uniform(-0.05, 0.35))
    rot = rot @ rotation_z(rng.uniform(-0.05, 0.05))
    light = np.array([rng.uniform(-0.6, 0.6), -1.0, rng.uniform(-0.5, 0.3)])
    floor_style = int(rng.integers(3))
    floor_base = [(0.55, 0.38, 0.22), (0.75, 0.74, 0.7), (0.45, 0.3, 0.32)][floor_style]
    colors = {
        "floor": jitter(rng, floor_base, 0.08),
        "wall": 0.55 + 0.4 * rng.random(3),
        "ceiling": jitter(rng, (0.92, 0.92, 0.9), 0.05),
        "baseboard": jitter(rng, [(0.95, 0.95, 0.95), (0.3, 0.2, 0.1)][rng.integers(2)], 0.04),
        "window": jitter(rng, (0.8, 0.88, 1.0), 0.05),
    }
    scene = Scene(
        room=room, rot=rot, light=light / np.linalg.norm(light),
        ambient=rng.uniform(0.3, 0.5), falloff=rng.uniform(6.0, 10.0),
        exposure=rng.uniform(1.2, 1.6), tint=1.0 + rng.uniform(-0.06, 0.06, 3),
        floor_style=floor_style, floor_scale=rng.uniform(0.15, 0.5), colors=colors,
        stripes=(rng.uniform(0.15, 0.4), rng.choice([0.0, rng.uniform(0.06, 0.15)])),
        baseboard=rng.uniform(0.06, 0.14),
    )
    for _ in range(rng.integers(0, 3)):
        surface = int(rng.choice([0, 1, 4]))
        width, bottom = rng.uniform(0.3, 0.7), rng.uniform(0.8, 1.1)
        lo, hi = (-room.left, room.right) if surface == 4 else (1.0, room.back)
        u = rng.uniform(lo + width, max(hi - width, lo + width + 0.01))
        scene.windows.append((surface, u - width, u + width, bottom, bottom + rng.uniform(0.8, 1.3)))
    scene.solids = add_furniture(room, rng)
    return scene


def _room_albedo(scene: Scene, p: np.ndarray, surface: np.ndarray) -> np.ndarray:
    c = scene.colors
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    s = scene.floor_scale
    ix, iz = np.floor(x / s), np.floor(z / s)
    if scene.floor_style == 0:  # planks along z, with staggered ends
        ends = np.mod(z + 1.5 * hash01(ix, 2), 1.5) < 0.02
        f = np.where((np.mod(x, s) < 0.06 * s) | ends, 0.55, 0.8 + 0.35 * hash01(ix, 1))
    elif scene.floor_style == 1:  # tiles with light grout
        grout = (np.mod(x, s) < 0.04 * s) | (np.mod(z, s) < 0.04 * s)
        f = np.where(grout, 1.15, np.where(np.mod(ix + iz, 2) == 0, 1.0, 0.8))
    else:  # carpet
        f = 0.85 + 0.3 * hash01(np.floor(x / 0.05), np.floor(z / 0.05), 3)
    albedo = np.where((surface == 3)[:, None], c["floor"] * f[:, None], c["ceiling"])
    along = np.where(surface == 4, x, z)
    period, contrast = scene.stripes
    wall = c["wall"] * np.where(np.mod(along, period) < period / 2, 1.0, 1.0 - contrast)[:, None]
    wall = np.where((scene.room.floor - y < scene.baseboard)[:, None], c["baseboard"], wall)
    return np.where(np.isin(surface, (0, 1, 4))[:, None], wall, albedo)


def render_scene(
    rng: np.random.Generator, height: int, width: int, taskonomy: bool = False
) -> dict[str, np.ndarray]:
    """One sample in the prepared format's per-sample layout (datasets/prepared.py)."""
    scene = sample_scene(rng)
    cam, d = camera_rays(height, width, focal_length(width), scene.rot)
    t, normal, surface = ray_room(d, scene.room)
    p = t[:, None] * d
    cls = _ROOM_CLASSES[surface]
    albedo = _room_albedo(scene, p, surface)
    emissive = np.zeros(len(t), dtype=bool)
    up = scene.room.floor - p[:, 1]
    for s, u0, u1, v0, v1 in scene.windows:
        along = p[:, 2] if s in (0, 1) else p[:, 0]
        emissive |= (surface == s) & (along > u0) & (along < u1) & (up > v0) & (up < v1)
    albedo[emissive] = scene.colors["window"]
    unit = d / np.linalg.norm(d, axis=1, keepdims=True)
    for solid in scene.solids:
        center, radius = solid.bound
        along = unit @ center
        rays = np.flatnonzero(center @ center - along * along <= radius * radius)
        if len(rays) == 0:
            continue
        ts, ns, local = solid.intersect(d[rays])
        m = ts < t[rays]
        idx = rays[m]
        t[idx], normal[idx], cls[idx], emissive[idx] = ts[m], ns[m], solid.cls, False
        albedo[idx] = solid.texture(local[m]) if solid.texture else solid.color
    lambert = np.clip(normal @ scene.light, 0.0, None)
    shade = (scene.ambient + (1 - scene.ambient) * lambert) / (1 + (t / scene.falloff) ** 2)
    shade = np.where(emissive, 1.0, shade * scene.exposure)[:, None] * scene.tint
    clean = np.clip(albedo * shade, 0.0, 1.0)
    noisy = np.clip(clean + rng.normal(0.0, _NOISE_STD, clean.shape), 0.0, 1.0)

    invalid = emissive.reshape(height, width)
    if rng.random() < 0.4:  # a patch the depth sensor missed
        v, u = np.mgrid[0:height, 0:width]
        cv, cu = rng.uniform(0, height), rng.uniform(0, width)
        rv, ru = rng.uniform(0.03, 0.08) * height, rng.uniform(0.03, 0.08) * width
        invalid = invalid | (((v - cv) / rv) ** 2 + ((u - cu) / ru) ** 2 < 1)
    seg = cls.reshape(height, width).copy()
    seg[boundary_ignore(seg, rng)] = 255
    depth = np.where(invalid, 0.0, t.reshape(height, width)).astype(np.float32)
    cam_normal = (normal @ scene.rot).T.reshape(3, height, width)
    cam_normal = np.where(invalid[None], 0.0, cam_normal).astype(np.float32)
    sample = {
        "rgb": np.round(noisy * 255).astype(np.uint8).reshape(height, width, 3),
        "segment_semantic": seg,
        "normal": cam_normal,
        "depth_zbuffer": depth[None],
    }
    if taskonomy:
        luminance = clean.reshape(height, width, 3) @ np.array([0.299, 0.587, 0.114])
        sample["edge_texture"] = edge_map(luminance)[None]
        sample["keypoints2d"] = keypoint_map(luminance)[None]
    return sample
