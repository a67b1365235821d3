"""A small inventory service: stock levels, reservations and restock planning."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

LOW_STOCK_DAYS = 7
DEFAULT_LEAD_TIME = timedelta(days=5)


class InventoryError(Exception):
    """Raised when a request cannot be satisfied."""


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0
    reserved: int = 0
    unit_cost: float = 0.0
    daily_demand: float = 0.0
    lead_time: timedelta = DEFAULT_LEAD_TIME
    tags: set[str] = field(default_factory=set)

    @property
    def available(self) -> int:
        return self.quantity - self.reserved

    def days_of_stock(self) -> float:
        if self.daily_demand <= 0:
            return float("inf")
        return self.available / self.daily_demand

    def to_dict(self) -> dict[str, object]:
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "reserved": self.reserved,
            "unit_cost": self.unit_cost,
            "daily_demand": self.daily_demand,
            "lead_time_days": self.lead_time.days,
            "tags": sorted(self.tags),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Item:
        return cls(
            sku=str(data["sku"]),
            name=str(data["name"]),
            quantity=int(data.get("quantity", 0)),  # type: ignore[arg-type]
            reserved=int(data.get("reserved", 0)),  # type: ignore[arg-type]
            unit_cost=float(data.get("unit_cost", 0.0)),  # type: ignore[arg-type]
            daily_demand=float(data.get("daily_demand", 0.0)),  # type: ignore[arg-type]
            lead_time=timedelta(days=int(data.get("lead_time_days", 5))),  # type: ignore[arg-type]
            tags=set(data.get("tags", [])),  # type: ignore[arg-type]
        )


@dataclass
class Reservation:
    sku: str
    quantity: int
    order_id: str
    created: datetime = field(default_factory=datetime.now)


class Inventory:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.reservations: dict[str, list[Reservation]] = {}

    def add(self, item: Item) -> None:
        if item.sku in self.items:
            raise InventoryError(f"duplicate sku {item.sku}")
        self.items[item.sku] = item

    def get(self, sku: str) -> Item:
        try:
            return self.items[sku]
        except KeyError:
            raise InventoryError(f"unknown sku {sku}") from None

    def receive(self, sku: str, quantity: int) -> Item:
        if quantity <= 0:
            raise InventoryError("quantity must be positive")
        item = self.get(sku)
        item.quantity += quantity
        log.info("received %d of %s, now %d", quantity, sku, item.quantity)
        return item

    def reserve(self, sku: str, quantity: int, order_id: str) -> Reservation:
        item = self.get(sku)
        if quantity > item.available:
            raise InventoryError(f"only {item.available} of {sku} available")
        item.reserved += quantity
        reservation = Reservation(sku, quantity, order_id)
        self.reservations.setdefault(order_id, []).append(reservation)
        return reservation

    def release(self, order_id: str) -> int:
        released = 0
        for reservation in self.reservations.pop(order_id, []):
            item = self.items.get(reservation.sku)
            if item is None:
                continue
            item.reserved -= reservation.quantity
            released += reservation.quantity
        return released

    def ship(self, order_id: str) -> list[str]:
        shipped = []
        for reservation in self.reservations.pop(order_id, []):
            item = self.get(reservation.sku)
            item.reserved -= reservation.quantity
            item.quantity -= reservation.quantity
            shipped.append(reservation.sku)
        return shipped

    def low_stock(self, days: int = LOW_STOCK_DAYS) -> list[Item]:
        return sorted(
            (item for item in self.items.values() if item.days_of_stock() < days),
            key=lambda item: item.days_of_stock(),
        )

    def restock_plan(self, horizon: timedelta = timedelta(days=30)) -> dict[str, int]:
        plan: dict[str, int] = {}
        for item in self.items.values():
            needed = item.daily_demand * (horizon + item.lead_time).days
            shortfall = int(needed) - item.available
            if shortfall > 0:
                plan[item.sku] = shortfall
        return plan

    def total_value(self) -> float:
        return sum(item.quantity * item.unit_cost for item in self.items.values())

    def by_tag(self, tag: str) -> list[Item]:
        return [item for item in self.items.values() if tag in item.tags]

    def save(self, path: Path) -> None:
        data = [item.to_dict() for item in self.items.values()]
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Inventory:
        inventory = cls()
        for entry in json.loads(path.read_text(encoding="utf-8")):
            inventory.add(Item.from_dict(entry))
        return inventory


def summarize(inventory: Inventory) -> str:
    lines = [f"{len(inventory.items)} items, value {inventory.total_value():.2f}"]
    for item in inventory.low_stock():
        lines.append(f"  low: {item.sku} ({item.days_of_stock():.1f} days left)")
    plan = inventory.restock_plan()
    if plan:
        lines.append("restock:")
        for sku, quantity in sorted(plan.items()):
            lines.append(f"  {sku}: {quantity}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    inv = Inventory.load(Path(sys.argv[1]))
    print(summarize(inv))
