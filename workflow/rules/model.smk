# Rules of every region: potential field, training, the model cube and its height
# profiles. Boundary data come from sharp.smk (SHARP) or lowlou.smk (benchmark).


rule potential:
    input:
        "results/{region}/boundary.nc",
    output:
        faces="results/{region}/pf_faces.nc",
        cube="results/{region}/potential.nc",
    params:
        args=potential_args,
    log:
        "logs/{region}/potential.log",
    benchmark:
        "results/{region}/benchmarks/potential.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn potential {input:q} -o {output.faces:q} --cube {output.cube:q} {params.args} "
        "> {log:q} 2>&1"


# Training checkpoints into results/{region}/train/checkpoint.pt, which is not a declared
# output: Snakemake keeps it when a job fails or is killed, and the rerun resumes from it.
# Settings: the config's train block with the region's overrides, passed as --set. A
# series snapshot starts from the previous snapshot's model (init; common_series.smk).
rule train:
    input:
        boundary=train_boundary,
        potential="results/{region}/potential.nc",
        init=init_model,
    output:
        model="results/{region}/train/model.pt",
        record="results/{region}/train/train.json",
        loss="results/{region}/train/loss.csv",
    params:
        out=lambda wildcards, output: str(Path(output.model).parent),
        args=train_args,
        init=init_model_arg,
    log:
        "logs/{region}/train.log",
    benchmark:
        "results/{region}/benchmarks/train.tsv"
    threads: train_resource("threads")
    resources:
        mem_mb=train_resource("mem_mb"),
        runtime=train_resource("runtime"),
        gpu=train_resource("gpu"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn train {input.boundary:q} --potential {input.potential:q} --out {params.out:q} "
        "--threads {threads} {params.init} {params.args} > {log:q} 2>&1"


rule cube:
    input:
        "results/{region}/train/model.pt",
    output:
        "results/{region}/cube.nc",
    log:
        "logs/{region}/cube.log",
    benchmark:
        "results/{region}/benchmarks/cube.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn cube {input:q} -o {output:q} > {log:q} 2>&1"


rule profiles:
    input:
        cube="results/{region}/cube.nc",
        potential="results/{region}/potential.nc",
        boundary="results/{region}/boundary.nc",
        train="results/{region}/train/train.json",
    output:
        profiles="results/{region}/profiles.nc",
        quality="results/{region}/quality.json",
    log:
        "logs/{region}/profiles.log",
    benchmark:
        "results/{region}/benchmarks/profiles.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn metrics {input.cube:q} --potential {input.potential:q} --json {output.quality:q} "
        "--profiles {output.profiles:q} --boundary {input.boundary:q} --train {input.train:q} "
        "--region {wildcards.region} > {log:q} 2>&1"
