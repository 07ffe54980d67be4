#!/usr/bin/env python3
"""Writes deploy/kibana/saved-objects.ndjson: the Runbooks data views and dashboard.

Kibana's export format nests JSON documents inside JSON strings (Lens state, panelsJSON,
searchSourceJSON), which is unreadable and easy to break by hand; this script is the source.
Run it after a change and commit both files (deploy/validate.sh fails when they differ):

    python3 deploy/kibana/build_saved_objects.py

Field names are those of the collector's ECS mapping (deploy/otel-collector/config.yaml) and
of the index templates in deploy/elasticsearch/; validate.sh checks that every field used
here is mapped there (or is an ECS field of the Jenkins/API documents the listener reads).
"""

import json
import pathlib

OUT = pathlib.Path(__file__).with_name("saved-objects.ndjson")

# The Kibana version whose saved-object format these objects follow; older documents are
# migrated forward on import, so they load in any later 8.x and 9.x.
CORE = "8.8.0"

DATA_VIEWS = {
    "runbooks-logs-jenkins-api": ("Jenkins and API logs", "logs-jenkins*,logs-api*"),
    "runbooks-logs-services": ("Runbooks service logs", "logs-runbooks-*"),
    "runbooks-traces": ("Runbooks traces", "traces-runbooks-*"),
    "runbooks-metrics": ("Runbooks metrics", "metrics-runbooks-*"),
}


def data_view(id_, name, pattern):
    return {
        "id": id_,
        "type": "index-pattern",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.0.0",
        "attributes": {"title": pattern, "name": name, "timeFieldName": "@timestamp"},
        "references": [],
    }


def lens_xy(id_, title, description, view, metric, split, series="bar_stacked"):
    """A Lens XY chart: `metric` over time (date histogram), one series per `split` value.

    metric: (operation, field or None, label); split: (field, size, label).
    """
    op, field, label = metric
    split_field, size, split_label = split
    layer = "layer1"
    columns = {
        "x": {
            "label": "@timestamp",
            "dataType": "date",
            "operationType": "date_histogram",
            "sourceField": "@timestamp",
            "isBucketed": True,
            "scale": "interval",
            "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
        },
        "y": {
            "label": label,
            "customLabel": True,
            "dataType": "number",
            "operationType": op,
            "sourceField": field if field else "___records___",
            "isBucketed": False,
            "scale": "ratio",
            "params": {"emptyAsNull": op != "count"},
        },
        "split": {
            "label": split_label,
            "customLabel": True,
            "dataType": "string",
            "operationType": "terms",
            "sourceField": split_field,
            "isBucketed": True,
            "scale": "ordinal",
            "params": {
                "size": size,
                "orderBy": {"type": "column", "columnId": "y"},
                "orderDirection": "desc",
                "otherBucket": True,
                "missingBucket": False,
                "parentFormat": {"id": "terms"},
            },
        },
    }
    state = {
        "datasourceStates": {
            "formBased": {
                "layers": {
                    layer: {
                        "columns": columns,
                        "columnOrder": ["split", "x", "y"],
                        "incompleteColumns": {},
                    }
                }
            }
        },
        "visualization": {
            "legend": {"isVisible": True, "position": "right"},
            "valueLabels": "hide",
            "preferredSeriesType": series,
            "layers": [
                {
                    "layerId": layer,
                    "layerType": "data",
                    "seriesType": series,
                    "xAccessor": "x",
                    "accessors": ["y"],
                    "splitAccessor": "split",
                }
            ],
        },
        "query": {"query": "", "language": "kuery"},
        "filters": [],
    }
    return {
        "id": id_,
        "type": "lens",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.9.0",
        "attributes": {
            "title": title,
            "description": description,
            "visualizationType": "lnsXY",
            "state": state,
        },
        "references": [
            {"type": "index-pattern", "id": view, "name": f"indexpattern-datasource-layer-{layer}"}
        ],
    }


# MTTR needs a ratio of sums per interval (sum of resolution times / number resolved), which
# Vega expresses directly against the metrics data stream.
MTTR_SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
    "title": "MTTR of the incidents resolved in each interval (minutes)",
    "data": {
        "url": {
            "%context%": True,
            "%timefield%": "@timestamp",
            "index": "metrics-runbooks-*",
            "body": {
                "size": 0,
                "aggs": {
                    "t": {
                        "date_histogram": {
                            "field": "@timestamp",
                            "fixed_interval": {"%autointerval%": True},
                            "min_doc_count": 0,
                            "extended_bounds": {
                                "min": {"%timefilter%": "min"},
                                "max": {"%timefilter%": "max"},
                            },
                        },
                        "aggs": {
                            "s": {"sum": {"field": "runbooks_incident_mttr_seconds_sum"}},
                            "c": {"sum": {"field": "runbooks_incident_mttr_seconds_count"}},
                        },
                    }
                },
            },
        },
        "format": {"property": "aggregations.t.buckets"},
    },
    "transform": [
        {"filter": "datum.c.value > 0"},
        {"calculate": "datum.s.value / datum.c.value / 60", "as": "mttr_min"},
        {"calculate": "datum.c.value", "as": "resolved"},
    ],
    "mark": {"type": "line", "point": True},
    "encoding": {
        "x": {"field": "key", "type": "temporal", "title": None},
        "y": {"field": "mttr_min", "type": "quantitative", "title": "MTTR (min)"},
        "tooltip": [
            {"field": "key", "type": "temporal", "title": "interval"},
            {"field": "mttr_min", "type": "quantitative", "title": "MTTR (min)", "format": ".1f"},
            {"field": "resolved", "type": "quantitative", "title": "incidents resolved"},
        ],
    },
}


def vega(id_, title, description, spec):
    vis_state = {"title": title, "type": "vega", "aggs": [], "params": {"spec": json.dumps(spec, indent=2)}}
    return {
        "id": id_,
        "type": "visualization",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.5.0",
        "attributes": {
            "title": title,
            "description": description,
            "visState": json.dumps(vis_state),
            "uiStateJSON": "{}",
            "version": 1,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        "references": [],
    }


def saved_search(id_, title, view, query, columns):
    source = {
        "query": {"query": query, "language": "kuery"},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return {
        "id": id_,
        "type": "search",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.0.0",
        "attributes": {
            "title": title,
            "description": "",
            "columns": columns,
            "sort": [["@timestamp", "desc"]],
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
        },
        "references": [
            {"type": "index-pattern", "id": view, "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}
        ],
    }


def dashboard(id_, title, description, panels):
    """panels: (type, id, x, y, w, h)."""
    panels_json, refs = [], []
    for i, (kind, ref_id, x, y, w, h) in enumerate(panels, start=1):
        index = str(i)
        panels_json.append(
            {
                "version": CORE,
                "type": kind,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                "panelIndex": index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{index}",
            }
        )
        refs.append({"name": f"{index}:panel_{index}", "type": kind, "id": ref_id})
    return {
        "id": id_,
        "type": "dashboard",
        "coreMigrationVersion": CORE,
        "typeMigrationVersion": "8.7.0",
        "attributes": {
            "title": title,
            "description": description,
            "panelsJSON": json.dumps(panels_json),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-24h",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 30000},
            "version": 1,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        "references": refs,
    }


def objects():
    out = [data_view(i, n, p) for i, (n, p) in DATA_VIEWS.items()]
    out.append(
        lens_xy(
            "runbooks-incidents-by-severity",
            "Incidents opened, by severity",
            "runbooks_incidents_opened_total per scrape interval (orchestrator metrics, all replicas).",
            "runbooks-metrics",
            ("sum", "runbooks_incidents_opened_total", "Incidents opened"),
            ("severity", 5, "Severity"),
        )
    )
    out.append(
        lens_xy(
            "runbooks-action-outcomes",
            "Action outcomes",
            "Actions finished or rejected by the runners, by outcome (completed, failed, rejected, dry_run).",
            "runbooks-metrics",
            ("sum", "runbooks_runner_actions_total", "Actions"),
            ("outcome", 5, "Outcome"),
        )
    )
    out.append(
        lens_xy(
            "runbooks-service-logs-by-level",
            "Service logs, by level",
            "Log lines of the five Runbooks services.",
            "runbooks-logs-services",
            ("count", None, "Log lines"),
            ("log.level", 5, "Level"),
        )
    )
    out.append(
        lens_xy(
            "runbooks-jenkins-api-logs-by-level",
            "Jenkins and API logs, by level",
            "The documents the listener tails (logs-jenkins*, logs-api*).",
            "runbooks-logs-jenkins-api",
            ("count", None, "Documents"),
            ("log.level", 6, "Level"),
        )
    )
    out.append(
        vega(
            "runbooks-mttr",
            "MTTR",
            "Mean time to resolve, from runbooks_incident_mttr_seconds (sum / count per interval).",
            MTTR_SPEC,
        )
    )
    out.append(
        saved_search(
            "runbooks-jenkins-api-errors",
            "Jenkins and API errors",
            "runbooks-logs-jenkins-api",
            "log.level : (error or ERROR or fatal or FATAL or critical or CRITICAL)",
            ["log.level", "jenkins.job.name", "jenkins.build.number", "service.name", "url.path",
             "http.response.status_code", "message"],
        )
    )
    out.append(
        saved_search(
            "runbooks-service-errors",
            "Runbooks service warnings and errors",
            "runbooks-logs-services",
            "log.level : (warn or error)",
            ["service.name", "log.level", "message", "runbooks.incident_id", "runbooks.action_id",
             "trace.id"],
        )
    )
    out.append(
        dashboard(
            "runbooks-overview",
            "Runbooks",
            "Incidents, actions, MTTR and logs of the Runbooks stack.",
            [
                ("lens", "runbooks-incidents-by-severity", 0, 0, 24, 14),
                ("visualization", "runbooks-mttr", 24, 0, 24, 14),
                ("lens", "runbooks-action-outcomes", 0, 14, 24, 14),
                ("lens", "runbooks-service-logs-by-level", 24, 14, 24, 14),
                ("lens", "runbooks-jenkins-api-logs-by-level", 0, 28, 24, 14),
                ("search", "runbooks-jenkins-api-errors", 24, 28, 24, 14),
                ("search", "runbooks-service-errors", 0, 42, 48, 14),
            ],
        )
    )
    return out


def render():
    return "".join(json.dumps(o, sort_keys=True) + "\n" for o in objects())


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
