"""Analytic ray casting for the synthetic scenes: a box room and box / sphere / cylinder solids.

All rays start at the camera centre (the world origin) and are given as world-frame directions
`d` (P×3) scaled so that the camera-frame z component is 1; the hit parameter `t` is then the
z-buffer depth of the hit point. Each intersector returns `(t, normal, local)`: `t` is `inf`
where the ray misses, `normal` is the outward unit normal in the world frame and `local` the
hit point in the solid's own frame (texture coordinates). World frame: x right, y down, z
forward, as the camera's before rotation, so "up" is -y.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-4


@dataclass(frozen=True)
class Room:
    left: float  # the left wall is the plane x = -left
    right: float  # the right wall is x = +right
    ceiling: float  # the ceiling is y = -ceiling (above the camera)
    floor: float  # the floor is y = +floor (the camera height)
    back: float  # the back wall is z = back


# Room surfaces, as returned by `ray_room` (index into this tuple).
ROOM_SURFACES = ("left_wall", "right_wall", "ceiling", "floor", "back_wall")


def rotation_y(angle: float) -> np.ndarray:
    """Rotation about the vertical axis (local → world)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def camera_rays(height: int, width: int, focal: float, rot: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pixel-centre rays: camera-frame (z = 1) and world-frame directions, both P×3."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    cam = np.stack(
        [(u - width / 2) / focal, (v - height / 2) / focal, np.ones_like(u)], axis=-1
    ).reshape(-1, 3)
    return cam, cam @ rot.T


def _safe(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 1e-12, 1e-12, x)


def ray_room(d: np.ndarray, room: Room) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each ray leaves the room: (t, world normal, surface index into ROOM_SURFACES)."""
    ds = _safe(d)
    inf = np.full(len(d), np.inf)
    tx = np.where(d[:, 0] > 0, room.right / ds[:, 0], -room.left / ds[:, 0])
    ty = np.where(d[:, 1] > 0, room.floor / ds[:, 1], -room.ceiling / ds[:, 1])
    tz = np.where(d[:, 2] > 0, room.back / ds[:, 2], inf)
    ts = np.stack([tx, ty, tz], axis=1)
    axis = ts.argmin(axis=1)
    t = ts.min(axis=1)
    surface = np.where(
        axis == 0,
        np.where(d[:, 0] < 0, 0, 1),
        np.where(axis == 1, np.where(d[:, 1] < 0, 2, 3), 4),
    )
    normals = np.array(
        [[1.0, 0, 0], [-1.0, 0, 0], [0, 1.0, 0], [0, -1.0, 0], [0, 0, -1.0]]
    )
    return t, normals[surface], surface


def ray_box(
    d: np.ndarray, center: np.ndarray, half: np.ndarray, yaw: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A box with half extents `half`, rotated by `yaw` about the vertical axis (slab test)."""
    rot = rotation_y(yaw)
    origin = -(np.asarray(center) @ rot)[:, None]
    dl = _safe(rot.T @ d.T)  # 3×P: per-axis rows keep the reductions below fast
    t1 = (-half[:, None] - origin) / dl
    t2 = (half[:, None] - origin) / dl
    tmin = np.minimum(t1, t2)
    near = tmin.max(axis=0)
    far = np.maximum(t1, t2).min(axis=0)
    hit = (near <= far) & (near > _EPS)
    axis = tmin.argmax(axis=0)
    cols = np.arange(len(d))
    normal = np.zeros_like(dl)
    normal[axis, cols] = -np.sign(dl[axis, cols])
    local = (origin + near * dl).T
    return np.where(hit, near, np.inf), (rot @ normal).T, local


def ray_sphere(
    d: np.ndarray, center: np.ndarray, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.einsum("ij,ij->i", d, d)
    b = d @ center
    disc = b * b - a * (center @ center - radius * radius)
    t = (b - np.sqrt(np.maximum(disc, 0.0))) / a
    hit = (disc >= 0) & (t > _EPS)
    local = t[:, None] * d - center
    return np.where(hit, t, np.inf), local / radius, local


def ray_cylinder(
    d: np.ndarray, cx: float, cz: float, radius: float, y_top: float, y_bottom: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A closed vertical cylinder between heights y_top < y_bottom (y points down)."""
    dx, dy, dz = d[:, 0], _safe(d[:, 1]), d[:, 2]
    a = np.maximum(dx * dx + dz * dz, 1e-12)
    b = dx * cx + dz * cz
    disc = b * b - a * (cx * cx + cz * cz - radius * radius)
    t_side = (b - np.sqrt(np.maximum(disc, 0.0))) / a
    y = t_side * dy
    side_ok = (disc >= 0) & (t_side > _EPS) & (y >= y_top) & (y <= y_bottom)
    candidates = [np.where(side_ok, t_side, np.inf)]
    for y_cap in (y_top, y_bottom):
        t_cap = y_cap / dy
        px, pz = t_cap * dx - cx, t_cap * dz - cz
        ok = (t_cap > _EPS) & (px * px + pz * pz <= radius * radius)
        candidates.append(np.where(ok, t_cap, np.inf))
    ts = np.stack(candidates, axis=1)
    which = ts.argmin(axis=1)
    t = ts.min(axis=1)
    tt = np.where(np.isfinite(t), t, 0.0)
    local = tt[:, None] * d - np.array([cx, y_bottom, cz])
    side_normal = np.stack([local[:, 0], np.zeros_like(tt), local[:, 2]], axis=1) / radius
    cap_normal = np.zeros_like(side_normal)
    cap_normal[:, 1] = np.where(which == 1, -1.0, 1.0)
    normal = np.where((which == 0)[:, None], side_normal, cap_normal)
    return t, normal, local


def hash01(*keys: np.ndarray | int) -> np.ndarray:
    """A platform-independent integer hash of integer keys to floats in [0, 1)."""
    x = np.zeros(np.broadcast(*[np.asarray(k) for k in keys]).shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in keys:
            x = x * np.uint64(0x100000001B3) + np.asarray(k).astype(np.int64).astype(np.uint64)
            x ^= x >> np.uint64(29)
            x *= np.uint64(0xBF58476D1CE4E5B9)
            x ^= x >> np.uint64(32)
    return (x >> np.uint64(40)).astype(np.float64) / float(1 << 24)
