# Low & Lou (1990) benchmark regions: the reference field, its six faces as boundary data,
# and the metrics of the model and of the potential field against it. The rules between
# (boundary, potential, train, cube, quality, figures) are those of every region
# (model.smk, products.smk).


rule lowlou:
    output:
        "results/{region}/reference.nc",
    log:
        "logs/{region}/lowlou.log",
    benchmark:
        "results/{region}/benchmarks/lowlou.tsv"
    wildcard_constraints:
        region=JOBS.patterns["lowlou"],
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        args=JOBS.lowlou_args,
    shell:
        "ffnn lowlou {params.args} -o {output:q} > {log:q} 2>&1"


rule faces:
    input:
        rules.lowlou.output,
    output:
        "results/{region}/faces.nc",
    log:
        "logs/{region}/faces.log",
    benchmark:
        "results/{region}/benchmarks/faces.tsv"
    wildcard_constraints:
        region=JOBS.patterns["lowlou"],
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    shell:
        "ffnn faces {input:q} -o {output:q} > {log:q} 2>&1"


rule metrics:
    input:
        cube=JOBS.metrics_cube,
        reference=rules.lowlou.output[0],
        potential=rules.potential.output.cube,
    output:
        "results/{region}/metrics_{model}.json",
    log:
        "logs/{region}/metrics_{model}.log",
    benchmark:
        "results/{region}/benchmarks/metrics_{model}.tsv"
    wildcard_constraints:
        region=JOBS.patterns["lowlou"],
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    shell:
        "ffnn metrics {input.cube:q} --reference {input.reference:q} "
        "--potential {input.potential:q} -o {output:q} > {log:q} 2>&1"


rule lowlou_table:
    input:
        expand(rules.summary_row.output[0], region=JOBS.lowlou),
    output:
        report(
            "results/lowlou/table.md",
            caption="../report/lowlou_table.rst",
            category="Low & Lou benchmark",
        ),
    log:
        "logs/lowlou_table.log",
    benchmark:
        "results/benchmarks/lowlou_table.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    shell:
        "ffnn lowlou-table {input:q} -o {output:q} > {log:q} 2>&1"
