# Low & Lou (1990) benchmark regions: the reference field, its boundary data, and the
# metrics of the model and of the potential field against it. The rules between
# (potential, train, cube, profiles, figures) are those of every region (model.smk).


rule lowlou_reference:
    output:
        "results/{region}/reference.nc",
    wildcard_constraints:
        region=LOWLOU_RE,
    params:
        args=lowlou_args,
    log:
        "logs/{region}/lowlou_reference.log",
    benchmark:
        "results/{region}/benchmarks/lowlou_reference.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn lowlou {params.args} -o {output:q} > {log:q} 2>&1"


rule lowlou_boundary:
    input:
        "results/{region}/reference.nc",
    output:
        "results/{region}/boundary.nc",
    wildcard_constraints:
        region=LOWLOU_RE,
    log:
        "logs/{region}/lowlou_boundary.log",
    benchmark:
        "results/{region}/benchmarks/lowlou_boundary.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn bottom {input:q} -o {output:q} > {log:q} 2>&1"


rule lowlou_faces:
    input:
        "results/{region}/reference.nc",
    output:
        "results/{region}/faces.nc",
    wildcard_constraints:
        region=LOWLOU_RE,
    log:
        "logs/{region}/lowlou_faces.log",
    benchmark:
        "results/{region}/benchmarks/lowlou_faces.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn faces {input:q} -o {output:q} > {log:q} 2>&1"


rule metrics:
    input:
        cube=metrics_cube,
        reference="results/{region}/reference.nc",
        potential="results/{region}/potential.nc",
    output:
        "results/{region}/metrics_{model}.json",
    wildcard_constraints:
        region=LOWLOU_RE,
    log:
        "logs/{region}/metrics_{model}.log",
    benchmark:
        "results/{region}/benchmarks/metrics_{model}.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn metrics {input.cube:q} --reference {input.reference:q} "
        "--potential {input.potential:q} --json {output:q} > {log:q} 2>&1"


rule lowlou_table:
    input:
        expand("results/{region}/row.json", region=LOWLOU_REGIONS),
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
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn lowlou-table {input:q} -o {output:q} > {log:q} 2>&1"
