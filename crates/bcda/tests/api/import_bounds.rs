//! Importers under hostile input: a line of any length is refused at the
//! format's limit with file and line (not read into memory whole), and a
//! zip archive is size-checked before anything in it is used.

use std::io::Write;

use bcda::domain::ApiVersion;
use bcda::formats::ndjson::MAX_RESOURCE_LINE_BYTES;
use bcda::import;

use crate::harness::{START, TestApp, backend_test};

const PATIENT: &str = r#"{"resourceType":"Patient","id":"-10000000000001","meta":{"lastUpdated":"2026-01-01T00:00:00.000+00:00"},"identifier":[{"system":"http://hl7.org/fhir/sid/us-mbi","value":"1S00E00AA00"}]}"#;

backend_test! {
    async fn an_ndjson_line_over_the_limit_refuses_the_file(backend) {
        let app = TestApp::new(backend).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Patient.ndjson");
        {
            // A valid Patient, then one JSON string a byte over the limit.
            let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
            writeln!(file, "{PATIENT}").expect("write");
            file.write_all(b"{\"resourceType\":\"Patient\",\"text\":\"").expect("write");
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..(MAX_RESOURCE_LINE_BYTES >> 20) {
                file.write_all(&chunk).expect("write");
            }
            file.write_all(b"\"}\n").expect("write");
            writeln!(file, "{PATIENT}").expect("write");
        }
        let err = import::resources::import_file(app.db(), ApiVersion::V2, &path, true)
            .await
            .expect_err("over the limit");
        assert_eq!(err.line, Some(2));
        let message = err.to_string();
        assert!(message.contains("Patient.ndjson: line 2"), "{message}");
        assert!(message.contains(&format!("longer than {MAX_RESOURCE_LINE_BYTES} bytes (16 MiB)")), "{message}");
        assert!(message.contains("nothing from this file was imported"), "{message}");
        assert!(bcda::store::resources::counts(app.db()).await.expect("counts").is_empty());

        // The same file without the long line imports.
        std::fs::write(&path, format!("{PATIENT}\n")).expect("write");
        import::resources::import_file(app.db(), ApiVersion::V2, &path, true)
            .await
            .expect("imports");
    }
}

backend_test! {
    async fn an_attribution_zip_with_too_many_members_is_refused(backend) {
        let app = TestApp::new(backend).await;
        app.create_aco("A9994").await;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("T.BCD.A9994.ZCY24.D240115.T1000000");
        {
            let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
            for i in 0..=bcda::formats::cclf_archive::MAX_MEMBERS {
                zip.start_file(format!("junk{i}"), zip::write::SimpleFileOptions::default())
                    .expect("member");
            }
            zip.finish().expect("zip");
        }
        let inputs = import::attribution::group_inputs(std::slice::from_ref(&path)).expect("group");
        let err = import::attribution::import_input(app.db(), &inputs[0], START, true)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("1001 members"), "{err}");
    }
}
