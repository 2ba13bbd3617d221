//! Windows: console control events, the loaded module's file name, the zip's layout.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use windows_sys::Win32::Foundation::{FALSE, TRUE};
use windows_sys::Win32::System::Console::{
    SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT,
};
use windows_sys::Win32::System::LibraryLoader::{GetModuleFileNameW, GetModuleHandleW};

use super::{Stop, StopRequest};

pub(super) const DUCKDB_LIBRARY: &str = "duckdb.dll";
pub(super) const DUCKDB_LIBRARY_PLACE: &str = "put the duckdb.dll that came with the connector beside connector.exe";

/// How long the handler of a closing console, a logoff or a shutdown keeps the
/// process alive for the work to stop; Windows ends it after about 5 s anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

type Handler = Box<dyn Fn(StopRequest) + Send + Sync>;

static HANDLER: OnceLock<Handler> = OnceLock::new();

pub(super) fn on_stop_request(handler: Handler) -> std::io::Result<()> {
    if HANDLER.set(handler).is_err() {
        return Err(std::io::Error::other("the stop handler is already installed"));
    }
    // SAFETY: plain Win32 calls; `console_event` stays valid for the whole process.
    unsafe {
        // A process started in a new process group ignores Ctrl-C until this is undone.
        SetConsoleCtrlHandler(None, FALSE);
        if SetConsoleCtrlHandler(Some(console_event), TRUE) == 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Runs on a thread Windows creates for each event.
unsafe extern "system" fn console_event(event: u32) -> i32 {
    let request = match event {
        CTRL_C_EVENT => StopRequest { stop: Stop::Interrupt, name: "Ctrl-C" },
        CTRL_BREAK_EVENT => StopRequest { stop: Stop::Terminate, name: "Ctrl-Break" },
        CTRL_CLOSE_EVENT => StopRequest { stop: Stop::Terminate, name: "the console closing" },
        CTRL_LOGOFF_EVENT => StopRequest { stop: Stop::Terminate, name: "logoff" },
        CTRL_SHUTDOWN_EVENT => StopRequest { stop: Stop::Terminate, name: "shutdown" },
        _ => return FALSE,
    };
    if let Some(handler) = HANDLER.get() {
        handler(request);
    }
    if matches!(event, CTRL_CLOSE_EVENT | CTRL_LOGOFF_EVENT | CTRL_SHUTDOWN_EVENT) {
        // Returning would end the process now; the main thread exits once the
        // work has stopped and its files are removed.
        std::thread::sleep(CLOSE_GRACE);
    }
    TRUE
}

pub(super) fn make_readable_by_others(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

pub(super) fn loaded_duckdb_library() -> Option<PathBuf> {
    let name: Vec<u16> = DUCKDB_LIBRARY.encode_utf16().chain([0]).collect();
    // SAFETY: `name` is NUL-terminated; the handle is not freed (GetModuleHandleW adds no reference).
    let module = unsafe { GetModuleHandleW(name.as_ptr()) };
    if module.is_null() {
        return None;
    }
    let mut buffer = vec![0u16; 32768];
    // SAFETY: the buffer's length is passed with it.
    let len = unsafe { GetModuleFileNameW(module, buffer.as_mut_ptr(), buffer.len() as u32) } as usize;
    (len > 0 && len < buffer.len()).then(|| PathBuf::from(String::from_utf16_lossy(&buffer[..len])))
}

pub(super) fn default_extension_directory() -> Option<PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join("extensions"))
}
