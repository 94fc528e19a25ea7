use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = rallypoint::cli::Cli::parse();
    let settings = match rallypoint::settings::Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("rallypoint: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    rallypoint::telemetry::init(&settings.log.filter);
    match rallypoint::cli::run(cli, settings) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("rallypoint: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
