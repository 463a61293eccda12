# Time series of a region (config series.sheet; ffnn.series): the checkpoint
# series_records lists the SHARP records JSOC holds in the series' range (one keyword
# query); each becomes a snapshot region <series>/<T_REC> whose record snapshot_record
# copies from that list, and which then runs through the rules of every SHARP region
# (fetch_sharp, boundary, potential, train, cube, profiles, figures, summary_row). Each
# snapshot's training starts from the previous snapshot's model (train's init input), so
# the chain runs in order, on a cluster too, and a rerun skips what is done. series
# gathers the snapshots' rows into series.nc and the series figure.

# a snapshot's resolve.json comes from its series' record list, not from a second query
ruleorder: snapshot_record > resolve


checkpoint series_records:
    output:
        "results/{series}/records.json",
    wildcard_constraints:
        series=SERIES_RE,
    params:
        args=series_records_args,
        jsoc=jsoc_args,
    log:
        "logs/{series}/series_records.log",
    benchmark:
        "results/{series}/benchmarks/series_records.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
        jsoc=1,
    conda:
        "../../environment.yml"
    shell:
        "ffnn series-records {params.args} {params.jsoc} --json {output:q} > {log:q} 2>&1"


rule snapshot_record:
    input:
        "results/{series}/records.json",
    output:
        "results/{series}/{stamp}/resolve.json",
    wildcard_constraints:
        series=SERIES_RE,
        stamp=r"\d{8}_\d{6}_TAI",
    log:
        "logs/{series}/{stamp}/snapshot_record.log",
    benchmark:
        "results/{series}/{stamp}/benchmarks/snapshot_record.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../environment.yml"
    shell:
        "ffnn snapshot-record {input:q} --snapshot {wildcards.stamp} --json {output:q} > {log:q} 2>&1"


rule series:
    input:
        rows=series_rows,
        records="results/{series}/records.json",
        flares=series_flares,
    output:
        nc="results/{series}/series.nc",
        figure=report(
            "results/{series}/series.png",
            caption="../report/series.rst",
            category="Series",
            subcategory="{series}",
            labels={"series": "{series}", "figure": "quantities against time"},
        ),
    wildcard_constraints:
        series=SERIES_RE,
    params:
        dpi=config["figures"]["dpi"],
    log:
        "logs/{series}/series.log",
    benchmark:
        "results/{series}/benchmarks/series.tsv"
    threads: 1
    resources:
        mem_mb=default_resource("mem_mb"),
        runtime=default_resource("runtime"),
    conda:
        "../../environment.yml"
    shell:
        "ffnn series {input.rows:q} --records {input.records:q} --flares {input.flares:q} --dpi {params.dpi} "
        "--nc {output.nc:q} --figure {output.figure:q} > {log:q} 2>&1"
