"""Kibana saved objects read back as the Elasticsearch queries Kibana would send.

``tests/test_dashboards.py`` uses this to check ``dashboards/callwatch.ndjson``
without a Kibana: each panel's data view, query, filters and aggregations are
turned into an Elasticsearch search body the way Kibana builds it (lucene queries
become ``query_string``, the time picker a range filter on the data view's time
field, aggregation-based buckets nest in order with their metrics inside, TSVB
series become filtered counts and filter ratios), together with every field the
panel uses and what it uses it for. Nothing here is hand-written per panel, so
editing a panel (or exporting a new one from Kibana) is re-checked automatically.

Supported: aggregation-based ``visualization`` objects (metrics count, avg, sum,
min, max, cardinality, percentiles; buckets terms, filters, date_histogram,
histogram, date_range, range), TSVB (``metrics``) with series split
``everything`` and metrics count / filter_ratio, ``markdown`` (no query), saved
``search`` objects and ``dashboard`` panels with dashboard-to-dashboard
drilldowns. Anything else raises ``Unsupported`` so a new panel type cannot slip
through unchecked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NUMERIC = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
)
DATE = frozenset({"date", "date_nanos"})
AGGREGATABLE = NUMERIC | DATE | {"keyword", "boolean", "ip"}
# What each aggregation (or other use of a field) needs the field's mapped type to be.
FIELD_TYPES: dict[str, frozenset[str]] = {
    "terms": AGGREGATABLE,
    "cardinality": AGGREGATABLE,
    "date_histogram": DATE,
    "date_range": DATE,
    "histogram": NUMERIC,
    "range": NUMERIC,
    "avg": NUMERIC,
    "sum": NUMERIC,
    "percentiles": NUMERIC,
    "min": NUMERIC | DATE,
    "max": NUMERIC | DATE,
    "time": DATE,
    "sort": AGGREGATABLE,
    "range_query": NUMERIC | DATE,
}
METRIC_AGGS = frozenset({"count", "avg", "sum", "min", "max", "cardinality", "percentiles"})
BUCKET_AGGS = frozenset({"terms", "filters", "date_histogram", "histogram", "date_range", "range"})
MISSING_TOKEN = "__missing__"  # what Kibana's terms agg sends for its "missing" bucket
DRILLDOWN = "DASHBOARD_TO_DASHBOARD_DRILLDOWN"


class Unsupported(ValueError):
    """A saved object uses something this reader does not know how to check."""


@dataclass(frozen=True)
class FieldUse:
    field: str
    use: str  # an aggregation type, "query", "range_query", "exists", "column", "sort", "time"


@dataclass
class PanelQuery:
    """One request a panel makes (a TSVB panel makes one per series)."""

    object_id: str
    label: str
    data_view_id: str
    body: dict[str, Any]
    fields: list[FieldUse]
    read: Callable[[dict[str, Any]], Any]


@dataclass
class Drilldown:
    dashboard_id: str
    panel_index: str
    panel_object: tuple[str, str]  # (type, id) of the panel it is attached to
    target_dashboard: str
    triggers: list[str]
    use_current_filters: bool


@dataclass
class SavedObjects:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SavedObjects:
        return cls.parse(path.read_text())

    @classmethod
    def parse(cls, text: str) -> SavedObjects:
        loaded = cls()
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if "exportedCount" in obj:  # the summary line a Kibana export ends with
                continue
            key = (obj["type"], obj["id"])
            if key in loaded.objects:
                raise ValueError(f"line {number}: duplicate saved object {key}")
            loaded.objects[key] = obj
        return loaded

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [o for (t, _), o in self.objects.items() if t == kind]

    def get(self, kind: str, object_id: str) -> dict[str, Any]:
        try:
            return self.objects[(kind, object_id)]
        except KeyError:
            raise KeyError(f"no {kind} {object_id!r} in the saved objects") from None

    def data_view(self, object_id: str) -> dict[str, Any]:
        return self.get("index-pattern", object_id)["attributes"]

    # ------------------------------------------------------------ references

    def reference(self, obj: dict[str, Any], name: str) -> dict[str, Any]:
        for ref in obj.get("references", []):
            if ref["name"] == name:
                return dict(ref)
        raise KeyError(f"{obj['type']} {obj['id']}: no reference named {name!r}")

    def used_reference_names(self, obj: dict[str, Any]) -> set[str]:
        """Every reference name the object's own attributes point at."""
        names: set[str] = set()
        attrs = obj["attributes"]
        source = search_source(obj)
        if "indexRefName" in source:
            names.add(source["indexRefName"])
        for flt in source.get("filter", []):
            if "indexRefName" in flt.get("meta", {}):
                names.add(flt["meta"]["indexRefName"])
        if obj["type"] == "visualization":
            state = json.loads(attrs["visState"])
            if "savedSearchRefName" in attrs:
                names.add(attrs["savedSearchRefName"])
            if state["type"] == "metrics":
                params = state["params"]
                names.add(params["index_pattern_ref_name"])
                for series in params["series"]:
                    if series.get("override_index_pattern"):
                        names.add(series["series_index_pattern_ref_name"])
        if obj["type"] == "dashboard":
            for panel in json.loads(attrs["panelsJSON"]):
                index = panel["panelIndex"]
                names.add(f"{index}:{panel['panelRefName']}")
            names.update(
                f"{d.panel_index}:drilldown:{DRILLDOWN}:{event}:dashboardId"
                for d, event in self._drilldown_events(obj)
            )
        return names

    def panels(self, dashboard_id: str) -> list[tuple[str, str, str]]:
        """(panel index, type, id) of each panel, resolved through the references."""
        obj = self.get("dashboard", dashboard_id)
        out = []
        for panel in json.loads(obj["attributes"]["panelsJSON"]):
            index = panel["panelIndex"]
            ref = self.reference(obj, f"{index}:{panel['panelRefName']}")
            if ref["type"] != panel["type"]:
                raise ValueError(f"{dashboard_id} panel {index}: {panel['type']} vs {ref['type']}")
            out.append((index, ref["type"], ref["id"]))
        return out

    def drilldowns(self, dashboard_id: str) -> list[Drilldown]:
        return [d for d, _ in self._drilldown_events(self.get("dashboard", dashboard_id))]

    def _drilldown_events(self, obj: dict[str, Any]) -> Iterator[tuple[Drilldown, str]]:
        for panel in json.loads(obj["attributes"]["panelsJSON"]):
            index = panel["panelIndex"]
            enhancements = panel.get("embeddableConfig", {}).get("enhancements", {})
            for event in enhancements.get("dynamicActions", {}).get("events", []):
                action = event["action"]
                if action["factoryId"] != DRILLDOWN:
                    raise Unsupported(f"{obj['id']} panel {index}: drilldown {action['factoryId']}")
                ref_name = f"{index}:drilldown:{DRILLDOWN}:{event['eventId']}:dashboardId"
                target = self.reference(obj, ref_name)
                panel_ref = self.reference(obj, f"{index}:{panel['panelRefName']}")
                yield (
                    Drilldown(
                        dashboard_id=obj["id"],
                        panel_index=index,
                        panel_object=(panel_ref["type"], panel_ref["id"]),
                        target_dashboard=target["id"],
                        triggers=list(event["triggers"]),
                        use_current_filters=bool(action["config"].get("useCurrentFilters")),
                    ),
                    event["eventId"],
                )

    # --------------------------------------------------------------- queries

    def queries(
        self,
        kind: str,
        object_id: str,
        time_range: tuple[str, str],
        filters: Sequence[dict[str, Any]] = (),
    ) -> list[PanelQuery]:
        """The requests a visualization or saved search makes for a time range and filters."""
        obj = self.get(kind, object_id)
        if kind == "search":
            return [self._search_query(obj, time_range, list(filters))]
        if kind != "visualization":
            raise Unsupported(f"{kind} {object_id}: not a panel type this reader knows")
        state = json.loads(obj["attributes"]["visState"])
        if state["type"] == "markdown":
            return []
        if state["type"] == "metrics":
            return self._tsvb_queries(obj, state, time_range, list(filters))
        return [self._agg_based_query(obj, state, time_range, list(filters))]

    def _data_view_for(self, obj: dict[str, Any], ref_name: str) -> str:
        ref = self.reference(obj, ref_name)
        if ref["type"] != "index-pattern":
            raise Unsupported(f"{obj['id']}: {ref_name} is a {ref['type']}, not a data view")
        return str(ref["id"])

    def _base_filters(
        self,
        data_view_id: str,
        time_field: str | None,
        time_range: tuple[str, str],
        queries: list[dict[str, Any]],
        filters: list[dict[str, Any]],
        uses: list[FieldUse],
    ) -> list[dict[str, Any]]:
        clauses: list[dict[str, Any]] = []
        time_field = time_field or self.data_view(data_view_id).get("timeFieldName")
        if time_field:
            uses.append(FieldUse(time_field, "time"))
            clauses.append(
                {
                    "range": {
                        time_field: {
                            "gte": time_range[0],
                            "lte": time_range[1],
                            "format": "strict_date_optional_time",
                        }
                    }
                }
            )
        for query in queries:
            dsl = query_dsl(query)
            uses.extend(query_fields(query))
            if dsl != {"match_all": {}}:
                clauses.append(dsl)
        for flt in filters:
            if flt.get("meta", {}).get("disabled"):
                continue
            clause = flt["query"]
            if flt.get("meta", {}).get("negate"):
                clause = {"bool": {"must_not": [clause]}}
            clauses.append(clause)
            key = flt.get("meta", {}).get("key")
            if key:
                uses.append(FieldUse(key, "query"))
        return clauses

    def _search_query(
        self, obj: dict[str, Any], time_range: tuple[str, str], filters: list[dict[str, Any]]
    ) -> PanelQuery:
        source = search_source(obj)
        data_view_id = self._data_view_for(obj, source["indexRefName"])
        uses: list[FieldUse] = []
        clauses = self._base_filters(
            data_view_id,
            None,
            time_range,
            [source.get("query", {})],
            [*source.get("filter", []), *filters],
            uses,
        )
        attrs = obj["attributes"]
        uses.extend(FieldUse(c, "column") for c in attrs.get("columns", []))
        sort = [{name: {"order": direction}} for name, direction in attrs.get("sort", [])]
        uses.extend(FieldUse(name, "sort") for name, _ in attrs.get("sort", []))
        body = {"size": 500, "query": {"bool": {"filter": clauses}}, "sort": sort}
        return PanelQuery(
            obj["id"],
            attrs["title"],
            data_view_id,
            body,
            uses,
            lambda response: [hit["_source"] for hit in response["hits"]["hits"]],
        )

    def _agg_based_query(
        self,
        obj: dict[str, Any],
        state: dict[str, Any],
        time_range: tuple[str, str],
        filters: list[dict[str, Any]],
    ) -> PanelQuery:
        source = search_source(obj)
        if "indexRefName" not in source:
            raise Unsupported(f"{obj['id']}: visualization without a data view")
        data_view_id = self._data_view_for(obj, source["indexRefName"])
        uses: list[FieldUse] = []
        clauses = self._base_filters(
            data_view_id,
            None,
            time_range,
            [source.get("query", {})],
            [*source.get("filter", []), *filters],
            uses,
        )
        aggs = [a for a in state["aggs"] if a.get("enabled", True)]
        for a in aggs:
            if a["type"] not in METRIC_AGGS | BUCKET_AGGS:
                raise Unsupported(f"{obj['id']}: aggregation {a['type']}")
        metrics = [a for a in aggs if a["type"] in METRIC_AGGS]
        buckets = [a for a in aggs if a["type"] in BUCKET_AGGS]
        by_id = {a["id"]: a for a in aggs}
        for a in aggs:
            if "field" in a["params"]:
                uses.append(FieldUse(a["params"]["field"], a["type"]))
            for flt in a["params"].get("filters", []):
                uses.extend(query_fields(flt["input"]))

        metric_dsl = {m["id"]: _metric_dsl(m) for m in metrics if m["type"] != "count"}
        inner: dict[str, Any] = dict(metric_dsl)
        for bucket in reversed(buckets):
            dsl = _bucket_dsl(bucket, by_id)
            order_metric = _order_metric(bucket, by_id)
            sub = dict(inner)
            if order_metric is not None:
                sub[order_metric["id"]] = _metric_dsl(order_metric)
            if sub:
                dsl["aggs"] = sub
            inner = {bucket["id"]: dsl}
        body = {"size": 0, "track_total_hits": True, "query": {"bool": {"filter": clauses}}}
        if inner:
            body["aggs"] = inner

        def read(response: dict[str, Any]) -> list[dict[str, Any]]:
            return list(_rows(response.get("aggregations", {}), response, buckets, metrics))

        return PanelQuery(obj["id"], obj["attributes"]["title"], data_view_id, body, uses, read)

    def _tsvb_queries(
        self,
        obj: dict[str, Any],
        state: dict[str, Any],
        time_range: tuple[str, str],
        filters: list[dict[str, Any]],
    ) -> list[PanelQuery]:
        params = state["params"]
        if params.get("time_range_mode", "entire_time_range") != "entire_time_range":
            raise Unsupported(f"{obj['id']}: TSVB time_range_mode {params['time_range_mode']}")
        panel_view = self._data_view_for(obj, params["index_pattern_ref_name"])
        out = []
        for series in params["series"]:
            if series.get("split_mode", "everything") != "everything":
                raise Unsupported(f"{obj['id']}: TSVB split_mode {series['split_mode']}")
            if series.get("override_index_pattern"):
                view = self._data_view_for(obj, series["series_index_pattern_ref_name"])
                time_field = series.get("series_time_field") or None
            else:
                view, time_field = panel_view, params.get("time_field") or None
            uses: list[FieldUse] = []
            queries = [params.get("filter") or {}, series.get("filter") or {}]
            clauses = self._base_filters(view, time_field, time_range, queries, filters, uses)
            if len(series["metrics"]) != 1:
                raise Unsupported(f"{obj['id']}: TSVB series with {len(series['metrics'])} metrics")
            metric = series["metrics"][0]
            aggs: dict[str, Any] = {}
            if metric["type"] == "filter_ratio":
                if metric.get("metric_agg", "count") != "count":
                    raise Unsupported(f"{obj['id']}: filter_ratio of {metric['metric_agg']}")
                numerator = metric.get("numerator") or {"query": "*", "language": "kuery"}
                denominator = metric.get("denominator") or {"query": "*", "language": "kuery"}
                aggs = {
                    "numerator": {"filter": query_dsl(numerator)},
                    "denominator": {"filter": query_dsl(denominator)},
                }
                uses.extend(query_fields(numerator))
                uses.extend(query_fields(denominator))
            elif metric["type"] != "count":
                raise Unsupported(f"{obj['id']}: TSVB metric {metric['type']}")
            body: dict[str, Any] = {
                "size": 0,
                "track_total_hits": True,
                "query": {"bool": {"filter": clauses}},
            }
            if aggs:
                body["aggs"] = aggs
            out.append(
                PanelQuery(
                    obj["id"],
                    series.get("label") or series["id"],
                    view,
                    body,
                    uses,
                    _tsvb_reader(metric["type"]),
                )
            )
        return out


def _tsvb_reader(metric_type: str) -> Callable[[dict[str, Any]], float]:
    def read(response: dict[str, Any]) -> float:
        if metric_type == "count":
            return float(response["hits"]["total"]["value"])
        aggs = response["aggregations"]
        denominator = aggs["denominator"]["doc_count"]
        return aggs["numerator"]["doc_count"] / denominator if denominator else 0.0

    return read


def search_source(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["attributes"].get("kibanaSavedObjectMeta", {})
    raw = meta.get("searchSourceJSON") or "{}"
    return dict(json.loads(raw))


def tsvb_variables(obj: dict[str, Any]) -> tuple[set[str], set[str]]:
    """A TSVB markdown panel's series variable names, and the variables its template uses."""
    params = json.loads(obj["attributes"]["visState"])["params"]
    names = {s.get("var_name") or s["id"] for s in params["series"]}
    used = set(re.findall(r"\{\{\s*([\w]+)\.", params.get("markdown", "")))
    return names, used


# ------------------------------------------------------------------ queries


def query_dsl(query: dict[str, Any]) -> dict[str, Any]:
    """A saved query as Elasticsearch DSL, as Kibana sends it (lucene only)."""
    text = str(query.get("query", "")).strip()
    if not text:
        return {"match_all": {}}
    if query.get("language") != "lucene":
        raise Unsupported(f"query language {query.get('language')!r} ({text!r}); use lucene")
    return {"query_string": {"query": text, "analyze_wildcard": True}}


_FIELD = re.compile(r"(?<![\w.\\])([A-Za-z_@][\w.@-]*)\s*:\s*(\"[^\"]*\"|\S+)")


def query_fields(query: dict[str, Any]) -> list[FieldUse]:
    """Fields a lucene query names, and how (term, range or existence)."""
    text = str(query.get("query", ""))
    uses = []
    for name, value in _FIELD.findall(text):
        if name == "_exists_":
            uses.append(FieldUse(value.strip('"'), "exists"))
        elif value[0] in "[{<>":
            uses.append(FieldUse(name, "range_query"))
        else:
            uses.append(FieldUse(name, "query"))
    return uses


# ------------------------------------------------------------- aggregations


def _metric_dsl(agg: dict[str, Any]) -> dict[str, Any]:
    p = agg["params"]
    if agg["type"] == "percentiles":
        return {"percentiles": {"field": p["field"], "percents": p["percents"]}}
    return {agg["type"]: {"field": p["field"]}}


def _order_metric(
    bucket: dict[str, Any], by_id: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    if bucket["type"] != "terms":
        return None
    order_by = bucket["params"].get("orderBy", "_key")
    if order_by == "_key":
        return None
    if order_by not in by_id:
        raise Unsupported(f"terms {bucket['id']} orders by {order_by!r}")
    metric = by_id[order_by]
    return None if metric["type"] == "count" else metric


def _bucket_dsl(agg: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    p = agg["params"]
    kind = agg["type"]
    if kind == "terms":
        order_by = p.get("orderBy", "_key")
        direction = p.get("order", "desc")
        if order_by == "_key":
            order = {"_key": direction}
        elif by_id[order_by]["type"] == "count":
            order = {"_count": direction}
        else:
            order = {order_by: direction}
        dsl: dict[str, Any] = {"field": p["field"], "size": p.get("size", 5), "order": order}
        if p.get("missingBucket"):
            dsl["missing"] = MISSING_TOKEN
        return {"terms": dsl}
    if kind == "filters":
        return {
            "filters": {
                "filters": {
                    (f.get("label") or f["input"]["query"]): query_dsl(f["input"])
                    for f in p["filters"]
                }
            }
        }
    if kind == "date_histogram":
        interval = p.get("interval", "auto")
        # "auto" depends on the browser's time range; an hour is what a day or two gives.
        units = {"auto": "1h", "h": "1h", "d": "1d", "w": "1w", "M": "1M", "y": "1y"}
        spec: dict[str, Any] = {"field": p["field"], "time_zone": "UTC"}
        if interval in units:
            spec["calendar_interval"] = units[interval]
        else:
            spec["fixed_interval"] = interval
        spec["min_doc_count"] = p.get("min_doc_count", 1)
        return {"date_histogram": spec}
    if kind == "histogram":
        return {
            "histogram": {
                "field": p["field"],
                "interval": p["interval"],
                "min_doc_count": 0 if p.get("min_doc_count") else 1,
            }
        }
    if kind == "date_range":
        return {
            "date_range": {
                "field": p["field"],
                "ranges": p["ranges"],
                "time_zone": p.get("time_zone", "UTC"),
            }
        }
    if kind == "range":
        return {"range": {"field": p["field"], "ranges": p["ranges"]}}
    raise Unsupported(kind)


def _metric_value(agg: dict[str, Any], holder: dict[str, Any]) -> Any:
    if agg["type"] == "count":
        return holder["doc_count"]
    result = holder[agg["id"]]
    if agg["type"] == "percentiles":
        return {float(k): v for k, v in result["values"].items()}
    if result.get("value") is not None and "value_as_string" in result:
        return result["value_as_string"]  # dates
    return result["value"]


def _rows(
    level: dict[str, Any],
    response: dict[str, Any],
    buckets: list[dict[str, Any]],
    metrics: list[dict[str, Any]],
    keys: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per leaf bucket: bucket keys under their agg ids, metric values under theirs."""
    keys = keys or {}
    if not buckets:
        holder = dict(level)
        holder.setdefault("doc_count", response["hits"]["total"]["value"])
        yield {**keys, **{m["id"]: _metric_value(m, holder) for m in metrics}}
        return
    agg, rest = buckets[0], buckets[1:]
    raw = level[agg["id"]]["buckets"]
    items = raw.items() if isinstance(raw, dict) else ((None, b) for b in raw)
    for name, bucket in items:
        if bucket["doc_count"] == 0 and agg["type"] in ("filters", "date_range", "range"):
            continue  # Kibana's tables and charts leave out empty buckets
        key = name if name is not None else bucket.get("key_as_string", bucket.get("key"))
        if agg["type"] == "terms" and key == MISSING_TOKEN:
            key = None
        if agg["type"] in ("date_range", "range"):
            key = bucket["key"]
        yield from _rows(bucket, response, rest, metrics, {**keys, agg["id"]: key})


def phrase_filter(data_view_id: str, name: str, value: str) -> dict[str, Any]:
    """The filter Kibana creates when a table cell is clicked ("filter for value")."""
    return {
        "meta": {
            "index": data_view_id,
            "key": name,
            "params": {"query": value},
            "type": "phrase",
            "negate": False,
            "disabled": False,
        },
        "query": {"match_phrase": {name: value}},
        "$state": {"store": "appState"},
    }


def flatten_mapping(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Dotted field name -> mapped type; object fields are 'object', nested inner fields
    are marked 'nested:<type>' (they cannot be aggregated without a nested agg)."""
    out: dict[str, str] = {}
    for name, spec in properties.items():
        full = f"{prefix}{name}"
        kind = spec.get("type", "object")
        if "properties" in spec:
            inner = flatten_mapping(spec["properties"], f"{full}.")
            if kind == "nested":
                inner = {k: f"nested:{v}" for k, v in inner.items()}
            out.update(inner)
            out[full] = kind
            continue
        out[full] = kind
        for sub, sub_spec in spec.get("fields", {}).items():
            out[f"{full}.{sub}"] = sub_spec.get("type", "object")
    return out


def field_problems(uses: list[FieldUse], mapping: dict[str, str]) -> list[str]:
    """Why these field uses would fail (or silently show nothing) against this mapping."""
    problems = []
    for use in uses:
        kind = mapping.get(use.field)
        if kind is None:
            problems.append(f"{use.field}: not in the mapping ({use.use})")
            continue
        if kind == "object" or kind.startswith("nested:"):
            problems.append(f"{use.field}: is {kind}, cannot be used for {use.use}")
            continue
        allowed = FIELD_TYPES.get(use.use)
        if allowed is not None and kind not in allowed:
            problems.append(f"{use.field}: {kind} does not support {use.use}")
    return problems
