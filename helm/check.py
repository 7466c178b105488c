"""Offline checks of the Helm chart (run by tests/helm_chart.rs under
scripts/test-infra, which installs helm-python-sdk and kubernetes-validate):

1. `helm lint --strict` of the chart (the Helm library, no cluster);
2. every values file (the defaults and helm/lendwork/ci/*-values.yaml)
   validates against values.schema.json, and a file with a typo is refused;
3. each renders, and every rendered manifest validates against the
   Kubernetes schemas (kubernetes-validate, strict: unknown fields fail);
4. the chart refuses more matchers than partitions;
5. with LENDWORK_CHART_OUT set, each rendering's lendwork.toml is written
   there (tests/helm_chart.rs loads them with Lendwork's config loader).

Prints one line per check; exit 1 on the first failure.
"""

import glob
import os
import sys

import helm_python as helm
import kubernetes_validate
import yaml

KUBE = "1.31"
here = os.path.dirname(os.path.abspath(__file__))
chart_dir = os.path.join(here, "lendwork")


def fail(msg):
    print("FAIL " + msg)
    sys.exit(1)


report = helm.lint(chart_dir, strict=True)
errors = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2] + report.get("errors", [])
if errors:
    fail(f"helm lint --strict: {errors}")
print(f"ok   helm lint --strict ({report.get('total_charts_linted')} chart)")

files = [None] + sorted(glob.glob(os.path.join(chart_dir, "ci", "*-values.yaml")))
good = [f for f in files if f is None or not os.path.basename(f).startswith("typo")]
bad = [f for f in files if f is not None and os.path.basename(f).startswith("typo")]
rendered_total = 0
with helm.Chart.load(chart_dir) as chart:
    for f in good:
        values = {} if f is None else yaml.safe_load(open(f))
        name = "defaults" if f is None else os.path.basename(f)
        try:
            chart.validate_schema(chart.merge_values(values))
        except Exception as e:  # noqa: BLE001 - report any refusal
            fail(f"{name}: refused by values.schema.json: {e}")
        manifests = chart.render(values, name="lw", namespace="labour", is_install=True)
        docs = 0
        for path, text in sorted(manifests.items()):
            if not path.endswith((".yaml", ".yml")):
                continue
            for doc in yaml.safe_load_all(text):
                if not doc:
                    continue
                try:
                    kubernetes_validate.validate(doc, KUBE, strict=True)
                except Exception as e:  # noqa: BLE001
                    fail(f"{name}: {path} {doc.get('kind')}: {e}")
                docs += 1
        if docs < 7:
            fail(f"{name}: only {docs} manifests rendered")
        # The rendered lendwork.toml, for the test to load with Lendwork's
        # own configuration loader.
        out_dir = os.environ.get("LENDWORK_CHART_OUT")
        if out_dir:
            for path, text in manifests.items():
                for doc in yaml.safe_load_all(text):
                    if doc and doc.get("kind") == "ConfigMap" and "lendwork.toml" in doc.get("data", {}):
                        target = os.path.join(out_dir, name.replace(".yaml", "") + ".toml")
                        with open(target, "w") as fh:
                            fh.write(doc["data"]["lendwork.toml"])
                        print(f"ok   {name}: rendered {target}")
        rendered_total += docs
        print(f"ok   {name}: schema, {docs} manifests valid for Kubernetes {KUBE}")
    for f in bad:
        values = yaml.safe_load(open(f))
        try:
            chart.validate_schema(chart.merge_values(values))
        except Exception as e:  # noqa: BLE001
            print(f"ok   {os.path.basename(f)} refused: {str(e).splitlines()[0][:120]}")
        else:
            fail(f"{os.path.basename(f)} was accepted")
    try:
        chart.render({"matcher": {"replicas": 13}}, name="lw", namespace="labour")
    except Exception as e:  # noqa: BLE001
        print(f"ok   13 matchers on 12 partitions refused: {str(e).splitlines()[0][:100]}")
    else:
        fail("13 matchers on 12 partitions were accepted")
print(f"ok   {rendered_total} manifests in all")
