//! Chart archives and directories in the layout of Helm's loader test vectors load exactly as
//! Helm's own tests expect: the generated ones (GNU tar with directory entries, Windows `\`
//! separators, byte order marks, Helm 2's requirements.yaml, archived subcharts inside archives),
//! and Helm's own vectors when `../shared` is present.

use capstan_chart::load::{load_archive, load_dir, load_path};
use capstan_chart::model::Chart;

fn paths(files: &[capstan_chart::model::ChartFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

fn subchart<'a>(chart: &'a Chart, name: &str) -> &'a Chart {
    chart
        .dependencies
        .iter()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("{} has no subchart {name}", chart.name()))
}

/// What Helm's loader tests check for frobnitz and its variants.
fn assert_frobnitz(chart: &Chart, name: &str) {
    assert_eq!(chart.name(), name);
    assert_eq!(chart.metadata.api_version, "v1");
    assert_eq!(chart.metadata.version, "1.2.3");
    assert_eq!(paths(&chart.templates), ["templates/template.tpl"]);
    // Helm keeps values.yaml and Chart.lock out of its Files; Capstan's model keeps them, so the
    // other files are Helm's six plus those two. charts/_ignore_me is dropped.
    assert_eq!(
        paths(&chart.files),
        [
            ".helmignore",
            "Chart.lock",
            "INSTALL.txt",
            "LICENSE",
            "README.md",
            "docs/README.md",
            "icon.svg",
            "values.yaml",
        ]
    );
    let helm_files = chart
        .files
        .iter()
        .filter(|f| f.path != "values.yaml" && f.path != "Chart.lock")
        .count();
    assert_eq!(helm_files, 6);
    assert_eq!(
        chart.values.get("name"),
        Some(&serde_json::json!("Some Name"))
    );
    assert_eq!(chart.metadata.annotations["extrakey"], "extravalue");

    let names: Vec<&str> = chart.dependencies.iter().map(Chart::name).collect();
    assert_eq!(names, ["alpine", "mariner"]);
    let alpine = subchart(chart, "alpine");
    assert_eq!(alpine.metadata.version, "0.1.0");
    let alpine_subcharts: Vec<&str> = alpine.dependencies.iter().map(Chart::name).collect();
    assert_eq!(alpine_subcharts, ["mast1", "mast2"]);
    assert_eq!(
        alpine.values.get("name"),
        Some(&serde_json::json!("my-alpine"))
    );
    let mariner = subchart(chart, "mariner");
    assert_eq!(mariner.metadata.version, "4.3.2");
    assert_eq!(subchart(mariner, "albatross").metadata.version, "0.1.0");

    assert_eq!(chart.metadata.dependencies.len(), 2);
    for (dependency, expected) in chart
        .metadata
        .dependencies
        .iter()
        .zip(["alpine", "mariner"])
    {
        assert_eq!(dependency.name, expected);
        assert_eq!(
            dependency.repository.as_deref(),
            Some("https://example.com/charts")
        );
    }
    let lock = chart.lock().expect("Chart.lock is present").unwrap();
    assert_eq!(lock.dependencies.len(), 2);
}

capstan_testdata::vector_tests! {
    fn frobnitz_archive_loads_as_helm_expects(vectors) {
        let chart = load_path(vectors.path("loader/frobnitz-1.2.3.tgz")).unwrap();
        assert_frobnitz(&chart, "frobnitz");
    }

    fn frobnitz_backslash_archive_loads_like_frobnitz(vectors) {
        let chart = load_path(vectors.path("loader/frobnitz_backslash-1.2.3.tgz")).unwrap();
        assert_frobnitz(&chart, "frobnitz_backslash");
    }

    fn frobnitz_with_bom_loads_with_boms_stripped(vectors) {
        let bytes = vectors.read("loader/frobnitz_with_bom.tgz");
        let chart = load_archive(&bytes).unwrap();
        assert_frobnitz(&chart, "frobnitz");
        for file in chart.files.iter().chain(&chart.templates) {
            assert!(!file.data.starts_with(b"\xEF\xBB\xBF"), "{}", file.path);
        }
        assert!(!chart.raw_metadata.starts_with(b"\xEF\xBB\xBF"));
    }

    fn frobnitz_v1_reads_dependencies_from_requirements_yaml(vectors) {
        let chart = load_path(vectors.path("loader/frobnitz.v1.tgz")).unwrap();
        assert_eq!(chart.name(), "frobnitz");
        assert_eq!(chart.metadata.api_version, "v1");
        let declared: Vec<&str> = chart
            .metadata
            .dependencies
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(declared, ["alpine", "mariner"]);
        let loaded: Vec<&str> = chart.dependencies.iter().map(Chart::name).collect();
        assert_eq!(loaded, ["alpine", "mariner"]);
        // Archives are not filtered by .helmignore (Helm applies it only when packaging a directory).
        assert!(chart.file("ignore/me.txt").is_some());
    }

    fn mariner_directory_loads_with_its_archived_subchart(vectors) {
        let chart = load_dir(vectors.path("loader/mariner")).unwrap();
        assert_eq!(chart.name(), "mariner");
        assert_eq!(paths(&chart.templates), ["templates/placeholder.tpl"]);
        let names: Vec<&str> = chart.dependencies.iter().map(Chart::name).collect();
        assert_eq!(names, ["albatross"]);
        assert_eq!(chart.metadata.dependencies[0].name, "albatross");
    }

    fn provenance_signtest_and_repository_archives_load(vectors) {
        for (archive, name, version) in [
            ("provenance/hashtest-1.2.3.tgz", "hashtest", "1.2.3"),
            ("signtest/signtest-0.1.0.tgz", "signtest", "0.1.0"),
            ("repo/repository/frobnitz-1.2.3.tgz", "frobnitz", "1.2.3"),
            ("repo/repository/sprocket-1.1.0.tgz", "sprocket", "1.1.0"),
            ("repo/repository/sprocket-1.2.0.tgz", "sprocket", "1.2.0"),
            (
                "repo/repository/universe/zarthal-1.0.0.tgz",
                "zarthal",
                "1.0.0",
            ),
        ] {
            let chart =
                load_path(vectors.path(archive)).unwrap_or_else(|e| panic!("{archive}: {e}"));
            assert_eq!(chart.name(), name, "{archive}");
            assert_eq!(chart.metadata.version, version, "{archive}");
        }
        let hashtest = load_path(vectors.path("provenance/hashtest-1.2.3.tgz")).unwrap();
        assert!(hashtest.values.is_empty());
        assert!(hashtest.file(".helmignore").is_some());
    }

    fn signtest_directory_loads(vectors) {
        let chart = load_dir(vectors.path("signtest/signtest")).unwrap();
        assert_eq!(chart.name(), "signtest");
        assert_eq!(paths(&chart.templates), ["templates/pod.yaml"]);
        // alpine/ sits beside templates/, not under charts/: it is a plain directory of files.
        assert!(chart.file("alpine/Chart.yaml").is_some());
    }
}
