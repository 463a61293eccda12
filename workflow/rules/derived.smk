# Products computed from every region's cube (issue 15): alpha, current helicity, twist
# number and squashing factor (derived.nc and its figures over the observed bottom field;
# on unless config derived.enabled is false), and exports for ParaView (VTK) and for
# overlays on the Sun (FITS maps with the region's WCS; off unless export.enabled).


rule derived:
    input:
        cube=rules.cube.output[0],
        boundary=rules.boundary.output[0],
    output:
        nc="results/{region}/derived.nc",
        twist=report(
            "results/{region}/figures/twist.png",
            caption="../report/twist.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "twist number"},
        ),
        log10_q=report(
            "results/{region}/figures/log10_q.png",
            caption="../report/log10_q.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "squashing factor"},
        ),
        q_slice=report(
            "results/{region}/figures/q_slice.png",
            caption="../report/q_slice.rst",
            category="Regions",
            subcategory="{region}",
            labels={"region": "{region}", "figure": "squashing factor (slice)"},
        ),
    log:
        "logs/{region}/derived.log",
    benchmark:
        "results/{region}/benchmarks/derived.tsv"
    threads: config["derived"]["threads"]
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        figures=lambda wildcards, output: str(Path(output.twist).parent),
        args=JOBS.derived_args,
    shell:
        "ffnn derived {input.cube:q} --boundary {input.boundary:q} -o {output.nc:q} "
        "--figures {params.figures:q} --threads {threads} {params.args} > {log:q} 2>&1"


rule export:
    input:
        cube=rules.cube.output[0],
        derived=rules.derived.output.nc,
    output:
        directory("results/{region}/export"),
    log:
        "logs/{region}/export.log",
    benchmark:
        "results/{region}/benchmarks/export.tsv"
    threads: 1
    resources:
        mem_mb=JOBS.resources["default"]["mem_mb"],
        runtime=JOBS.resources["default"]["runtime"],
    params:
        args=JOBS.export_args,
    shell:
        "ffnn export {input.cube:q} --derived {input.derived:q} {params.args} --outdir {output:q} "
        "> {log:q} 2>&1"
