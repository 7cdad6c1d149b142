//! Progress bars for long jobs (hidden with `--quiet` or when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting bytes (imports).
pub fn bytes(quiet: bool, what: &str) -> ProgressBar {
    bar(quiet, &format!("{what} {{bar:40.cyan/blue}} {{bytes}}/{{total_bytes}} {{msg}} ({{eta}})"))
}

/// A bar counting items (users generated, profiles computed).
pub fn items(quiet: bool, what: &str, total: u64) -> ProgressBar {
    let pb = bar(quiet, &format!("{what} {{bar:40.cyan/blue}} {{human_pos}}/{{human_len}} {{msg}} ({{eta}})"));
    pb.set_length(total);
    pb
}

fn bar(quiet: bool, template: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(0);
    pb.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("█▉▊▋▌▍▎▏ "));
    pb
}

/// Adapts a bar to the importer's progress callback.
pub struct ImportBar(pub ProgressBar);

impl cohort_collect::import::ImportProgress for ImportBar {
    fn start(&self, total_bytes: u64) {
        self.0.set_length(total_bytes);
    }

    fn advance(&self, bytes_done: u64, rows_done: u64) {
        self.0.set_position(bytes_done);
        self.0.set_message(format!("{rows_done} rows"));
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
