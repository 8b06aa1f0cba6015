"""A model's columns in a hand-written SELECT, and its instances built back from the rows.

For the few statements on a hot path where compiling the ORM query costs more than running
it (a webhook turn on a live phone call). The SQL is written once; building an instance
applies the same converters the ORM applies (the backend's and each field's
``from_db_value``: encrypted fields, JSON, SQLite's dates), so the objects behave exactly like
ones the ORM loaded, and saving them through the ORM works as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)


class ModelColumns(Generic[M]):
    """Every concrete column of ``model`` under a table ``alias``, in field order."""

    def __init__(self, model: type[M], alias: str) -> None:
        self.model = model
        self.alias = alias
        self.fields = model._meta.concrete_fields
        self.width = len(self.fields)
        self._converters_by_vendor: dict[str, list[tuple[int, list[Callable], Any]]] = {}

    def sql(self, using: str = "default") -> str:
        quote = connections[using].ops.quote_name
        return ", ".join(f"{quote(self.alias)}.{quote(f.column)}" for f in self.fields)

    def _converters(self, using: str) -> list[tuple[int, list[Callable], Any]]:
        connection = connections[using]
        found = self._converters_by_vendor.get(connection.vendor)
        if found is None:
            found = []
            for index, field in enumerate(self.fields):
                column = field.get_col(self.alias)
                functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                if functions:
                    found.append((index, functions, column))
            self._converters_by_vendor[connection.vendor] = found
        return found

    def build(self, row: Sequence[Any], start: int = 0, using: str = "default") -> M:
        """The instance from ``row[start:start + width]``, as ``Model.from_db`` would make it."""
        values = list(row[start : start + self.width])
        connection = connections[using]
        for index, functions, column in self._converters(using):
            value = values[index]
            for convert in functions:
                value = convert(value, column, connection)
            values[index] = value
        return self.model.from_db(using, None, values)


def insert_rows(objs: Sequence[Model], using: str = "default") -> None:
    """``bulk_create(objs)`` in one INSERT, without compiling a query or reading back the keys.

    Field defaults and ``pre_save`` (``auto_now`` and the like) apply as in the ORM; the
    instances' primary keys stay unset, so use it only where nothing needs them afterwards.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[using]
    fields = [f for f in model._meta.concrete_fields if not f.db_returning]  # not the serial key
    quote = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(objs))}"
    )
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in objs for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using
