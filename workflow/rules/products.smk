# Products of every region: figures and its summary row; then the summary table of all
# regions.


rule figures:
    input:
        boundary=rules.boundary.output[0],
        cube=rules.cube.output[0],
        profiles=rules.quality.output.profiles,
        loss=rules.train.output.loss,
        reference=JOBS.figures_reference,
    output:
        bottom=report(
            "results/{region}/figures/bottom.png",
            caption="../report/bottom.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "bottom boundary"},
        ),
        fieldlines_xy=report(
            "results/{region}/figures/fieldlines_xy.png",
            caption="../report/fieldlines_xy.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "field lines (xy)"},
        ),
        fieldlines_3d=report(
            "results/{region}/figures/fieldlines_3d.png",
            caption="../report/fieldlines_3d.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "field lines (3-D)"},
        ),
        profiles=report(
            "results/{region}/figures/profiles.png",
            caption="../report/profiles.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "height profiles"},
        ),
        loss=report(
            "results/{region}/figures/loss.png",
            caption="../report/loss.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "loss curve"},
        ),
    log:
        "logs/{region}/figures.log",
    benchmark:
        "results/{region}/benchmarks/figures.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        outdir=lambda wildcards, output: str(Path(output.bottom).parent),
        args=JOBS.figures_args,
    shell:
        "ffnn figures --boundary {input.boundary:q} --cube {input.cube:q} "
        "--profiles {input.profiles:q} --loss {input.loss:q} {params.args} "
        "--outdir {params.outdir:q} > {log:q} 2>&1"


rule summary_row:
    input:
        unpack(JOBS.row_inputs),
    output:
        "results/{region}/row.json",
    log:
        "logs/{region}/summary_row.log",
    benchmark:
        "results/{region}/benchmarks/summary_row.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        args=JOBS.row_args,
    shell:
        "ffnn summary-row --train {input.train:q} --quality {input.quality:q} "
        "--profiles {input.profiles:q} {params.args} -o {output:q} > {log:q} 2>&1"


rule summary:
    input:
        expand(rules.summary_row.output[0], region=list(JOBS.regions)),
    output:
        tsv=report(
            "results/summary.tsv",
            caption="../report/summary.rst",
            category="Summary",
            labels={"table": "summary"},
        ),
        nc="results/summary.nc",
        json="results/summary.json",
        checks=report(
            "results/checks.tsv",
            caption="../report/checks.rst",
            category="Summary",
            labels={"table": "trust checks"},
        ),
    log:
        "logs/summary.log",
    benchmark:
        "results/benchmarks/summary.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    shell:
        "ffnn summary {input:q} --tsv {output.tsv:q} --nc {output.nc:q} --json {output.json:q} "
        "--checks {output.checks:q} > {log:q} 2>&1"
