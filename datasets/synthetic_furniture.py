"""Furniture for the synthetic scenes: solids with a class, a colour and a procedural texture.

Classes (8, `datasets.registry` says so too): floor, wall, ceiling come from the room; cabinets
(boxes with drawer seams), tables (a thin top on four thin legs), balls (spheres, some banded),
floor lamps (a thin pole under a shade) and pictures (thin boxes on the walls, told apart from
the wall only by colour) stand in it. Thin legs and poles and small balls are what a heavily
pruned network loses first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from datasets.synthetic_geometry import (
    Room,
    hash01,
    ray_box,
    ray_cylinder,
    ray_sphere,
    rotation_y,
)

CLASS_NAMES = ("floor", "wall", "ceiling", "cabinet", "table", "ball", "lamp", "picture")
FLOOR, WALL, CEILING, CABINET, TABLE, BALL, LAMP, PICTURE = range(len(CLASS_NAMES))
NUM_CLASSES = len(CLASS_NAMES)

Texture = Callable[[np.ndarray], np.ndarray]  # local hit points (P×3) → albedo (P×3)


@dataclass
class Solid:
    intersect: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
    bound: tuple[np.ndarray, float]  # bounding sphere: only rays through it are cast
    cls: int
    color: np.ndarray
    texture: Texture | None = None


def _box(center: np.ndarray, half: np.ndarray, yaw: float, cls: int, color: np.ndarray,
         texture: Texture | None = None) -> Solid:
    return Solid(lambda d: ray_box(d, center, half, yaw), (center, float(np.linalg.norm(half))),
                 cls, color, texture)


def _sphere(center: np.ndarray, radius: float, color: np.ndarray,
            texture: Texture | None = None) -> Solid:
    return Solid(lambda d: ray_sphere(d, center, radius), (center, radius), BALL, color, texture)


def _cylinder(x: float, z: float, radius: float, y_top: float, y_bottom: float,
              color: np.ndarray) -> Solid:
    bound = (np.array([x, (y_top + y_bottom) / 2, z]), float(np.hypot(radius, (y_bottom - y_top) / 2)))
    return Solid(lambda d: ray_cylinder(d, x, z, radius, y_top, y_bottom), bound, LAMP, color)


def jitter(rng: np.random.Generator, base: tuple[float, float, float], amount: float) -> np.ndarray:
    return np.clip(np.array(base) + rng.uniform(-amount, amount, 3), 0.02, 1.0)


def _bright_color(rng: np.random.Generator) -> np.ndarray:
    rgb = rng.uniform(0.05, 0.35, 3)
    rgb[rng.integers(3)] = rng.uniform(0.75, 1.0)
    return rgb


def _drawers(half: np.ndarray, color: np.ndarray, drawer: float) -> Texture:
    def texture(local: np.ndarray) -> np.ndarray:
        seam = np.mod(local[:, 1] + half[1], drawer) < 0.05 * drawer / 0.3
        seam |= np.abs(local[:, 0]) < 0.012
        return color * np.where(seam, 0.45, 1.0)[:, None]

    return texture


def _bands(radius: float, color: np.ndarray, band: np.ndarray) -> Texture:
    return lambda local: np.where((np.abs(local[:, 1]) < 0.3 * radius)[:, None], band, color)


def _painting(half: np.ndarray, frame: np.ndarray, salt: int, cells: int) -> Texture:
    def texture(local: np.ndarray) -> np.ndarray:
        u = (local[:, 0] + half[0]) / (2 * half[0])
        v = (local[:, 1] + half[1]) / (2 * half[1])
        cell = np.floor(u * cells) * 7 + np.floor(v * cells)
        paint = np.stack([hash01(cell, salt, c) for c in range(3)], axis=1) * 0.9 + 0.05
        to_edge = np.minimum(
            np.minimum(local[:, 0] + half[0], half[0] - local[:, 0]),
            np.minimum(local[:, 1] + half[1], half[1] - local[:, 1]),
        )
        border = to_edge < 0.04
        return np.where(border[:, None], frame, paint)

    return texture


def _spot(room: Room, rng: np.random.Generator, margin: float, z_min: float = 1.4) -> tuple[float, float]:
    x = rng.uniform(-room.left + margin, max(room.right - margin, -room.left + margin))
    return float(x), float(rng.uniform(z_min, max(room.back - margin, z_min + 0.1)))


def _cabinets(room: Room, rng: np.random.Generator) -> list[Solid]:
    """0-2 cabinets, against the back wall, against a side wall or free-standing."""
    solids = []
    for _ in range(rng.integers(0, 3)):
        half = np.array([rng.uniform(0.2, 0.7), rng.uniform(0.2, 0.95), rng.uniform(0.15, 0.3)])
        where = rng.integers(3)
        x, z = _spot(room, rng, half[0] + 0.05, 1.4 + half[0])
        yaw = float(rng.uniform(-0.6, 0.6))
        if where == 0:
            z, yaw = room.back - half[2] - 0.005, 0.0
        elif where == 1:  # depth axis along x: against the left or the right wall
            yaw = float(rng.choice([-np.pi / 2, np.pi / 2]))
            x = (-room.left + half[2] + 0.005) if yaw > 0 else (room.right - half[2] - 0.005)
        bases = [(0.35, 0.22, 0.12), (0.85, 0.85, 0.82), (0.4, 0.42, 0.45)]
        color = jitter(rng, bases[rng.integers(3)], 0.08)
        center = np.array([x, room.floor - half[1], z])
        texture = _drawers(half, color, rng.uniform(0.2, 0.4))
        solids.append(_box(center, half, yaw, CABINET, color, texture))
    return solids


def _table(room: Room, rng: np.random.Generator) -> list[Solid]:
    """Maybe a table: a thin top on four thin legs, maybe with a small ball on it."""
    if rng.random() >= 0.75:
        return []
    fl = room.floor
    half = np.array([rng.uniform(0.35, 0.8), rng.uniform(0.015, 0.03), rng.uniform(0.25, 0.45)])
    height, leg = rng.uniform(0.65, 0.8), rng.uniform(0.015, 0.03)
    x, z = _spot(room, rng, half[0] + 0.1, 1.8)
    yaw = float(rng.uniform(-np.pi, np.pi))
    bases = [(0.5, 0.33, 0.18), (0.15, 0.15, 0.15), (0.9, 0.9, 0.88)]
    color = jitter(rng, bases[rng.integers(3)], 0.06)
    solids = [_box(np.array([x, fl - height + half[1], z]), half, yaw, TABLE, color)]
    leg_half = np.array([leg, (height - 2 * half[1]) / 2, leg])
    for sx in (-1, 1):
        for sz in (-1, 1):
            corner = np.array([sx * (half[0] - 0.06), 0.0, sz * (half[2] - 0.06)])
            center = np.array([x, fl - leg_half[1], z]) + rotation_y(yaw) @ corner
            solids.append(_box(center, leg_half, yaw, TABLE, color))
    if rng.random() < 0.5:
        r = float(rng.uniform(0.05, 0.12))
        center = np.array([x + rng.uniform(-0.5, 0.5) * half[0], fl - height - r, z])
        solids.append(_sphere(center, r, _bright_color(rng)))
    return solids


def _balls(room: Room, rng: np.random.Generator) -> list[Solid]:
    """1-3 balls on the floor, half of them banded."""
    solids = []
    for _ in range(rng.integers(1, 4)):
        r = float(rng.uniform(0.06, 0.3))
        x, z = _spot(room, rng, r + 0.02)
        color = _bright_color(rng)
        texture = _bands(r, color, _bright_color(rng)) if rng.random() < 0.5 else None
        solids.append(_sphere(np.array([x, room.floor - r, z]), r, color, texture))
    return solids


def _lamp(room: Room, rng: np.random.Generator) -> list[Solid]:
    """Maybe a floor lamp: a thin pole, a shade on top and a flat base."""
    if rng.random() >= 0.6:
        return []
    fl = room.floor
    x, z = _spot(room, rng, 0.25, 1.8)
    top = float(fl - rng.uniform(1.3, 1.8))
    pole = jitter(rng, (0.25, 0.25, 0.27), 0.05)
    shade = jitter(rng, (0.92, 0.86, 0.7), 0.06)
    r_pole, r_shade = float(rng.uniform(0.01, 0.025)), float(rng.uniform(0.12, 0.2))
    return [
        _cylinder(x, z, r_pole, top, fl, pole),
        _cylinder(x, z, r_shade, top - 0.25, top + 0.02, shade),
        _cylinder(x, z, 0.13, fl - 0.03, fl, pole),
    ]


def _pictures(room: Room, rng: np.random.Generator) -> list[Solid]:
    """0-2 framed pictures hanging on the back or a side wall."""
    solids = []
    for _ in range(rng.integers(0, 3)):
        half = np.array([rng.uniform(0.15, 0.5), rng.uniform(0.15, 0.4), 0.01])
        y = room.floor - rng.uniform(1.2, 1.9)
        frame = jitter(rng, [(0.1, 0.08, 0.05), (0.8, 0.65, 0.3)][rng.integers(2)], 0.05)
        if rng.random() < 0.5:
            center, yaw = np.array([_spot(room, rng, half[0])[0], y, room.back - 0.012]), 0.0
        else:
            side = float(rng.choice([-1.0, 1.0]))
            z = rng.uniform(1.0 + half[0], max(room.back - half[0], 1.1 + half[0]))
            x = -room.left + 0.012 if side < 0 else room.right - 0.012
            center, yaw = np.array([x, y, z]), side * np.pi / 2
        texture = _painting(half, frame, int(rng.integers(1 << 30)), int(rng.integers(1, 4)))
        solids.append(_box(center, half, yaw, PICTURE, frame, texture))
    return solids


def add_furniture(room: Room, rng: np.random.Generator) -> list[Solid]:
    """Cabinets, a table, balls, a floor lamp and pictures, placed at random in `room`."""
    return [
        solid
        for place in (_cabinets, _table, _balls, _lamp, _pictures)
        for solid in place(room, rng)
    ]
