//! Who is listening on a loopback port, asked before a password or token is sent there.
//!
//! While an engine is down (or still starting) its port is free, and any local user can bind
//! it and read what the clients send: the Cassandra and registry passwords in clear, the Spark
//! tokens. So before a client sends a credential to a loopback address it asks the kernel who
//! holds the listening socket (`/proc/net/tcp`, `/proc/<pid>/fd`):
//! - a socket of another user is refused outright;
//! - when the state directory records the stack's processes (`<state>/run/*.pid`), the socket
//!   must belong to one of their process groups: an engine this stack started.
//!
//! An address that is not loopback is left alone: nothing on this machine can impersonate it
//! more easily than the network can, and overrides pointing elsewhere carry their own logins.
//! Nothing listening is not an error either: the connection is refused before anything is sent.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One listening TCP socket, as `/proc/net/tcp` or `/proc/net/tcp6` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListeningSocket {
    /// The address it is bound to (`0.0.0.0` or `::` for every address).
    pub address: IpAddr,
    /// Its port.
    pub port: u16,
    /// The user that created it.
    pub uid: u32,
    /// Its inode: the `socket:[inode]` link in the holder's `/proc/<pid>/fd`.
    pub inode: u64,
}

/// The listening sockets of one `/proc/net/tcp` (IPv4) or `/proc/net/tcp6` table. Lines that
/// are not in the LISTEN state (`0A`) or do not parse are skipped.
pub fn parse_proc_net_tcp(table: &str) -> Vec<ListeningSocket> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&"0A") {
                return None;
            }
            let (address, port) = fields.get(1)?.split_once(':')?;
            Some(ListeningSocket {
                address: parse_hex_address(address)?,
                port: u16::from_str_radix(port, 16).ok()?,
                uid: fields.get(7)?.parse().ok()?,
                inode: fields.get(9)?.parse().ok()?,
            })
        })
        .collect()
}

/// The kernel prints an address as its 32-bit words in host byte order (little-endian here).
fn parse_hex_address(hex: &str) -> Option<IpAddr> {
    let words: Vec<u32> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).map(u32::swap_bytes))
        .collect::<Result<_, _>>()
        .ok()?;
    match words[..] {
        [v4] => Some(IpAddr::V4(Ipv4Addr::from(v4))),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (chunk, word) in bytes.chunks_mut(4).zip([a, b, c, d]) {
                chunk.copy_from_slice(&word.to_be_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Whether a connection to `target` can reach a socket bound to `bound`.
fn reaches(bound: IpAddr, target: IpAddr) -> bool {
    let bound = canonical(bound);
    bound == canonical(target) || bound.is_unspecified()
}

fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// The process holding a listening socket, as far as this user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its pid.
    pub pid: i32,
    /// Its process group (each engine of the stack leads its own).
    pub process_group: i32,
    /// Its command name (`/proc/<pid>/comm`).
    pub command: String,
}

/// A credential was not sent: the port is held by something the stack did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForeignListener {
    /// The listening socket belongs to another user of the machine.
    OtherUser {
        /// The address the client was about to send a credential to.
        address: String,
        /// The socket's owner.
        uid: u32,
    },
    /// The socket is this user's but no engine of the stack holds it.
    NotTheStack {
        /// The address the client was about to send a credential to.
        address: String,
        /// Who holds it, when that could be seen.
        holder: Option<Holder>,
    },
}

impl fmt::Display for ForeignListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OtherUser { address, uid } => write!(
                f,
                "{address} is held by another user (uid {uid}), not by this stack: no credentials \
                 sent. Find it with `ss -ltnp`, then stop it or move the stack's port \
                 (USERSTREAM_*_PORT)"
            ),
            Self::NotTheStack { address, holder } => {
                let who = holder.as_ref().map_or_else(
                    || "a process".to_owned(),
                    |h| format!("pid {} (`{}`)", h.pid, h.command),
                );
                write!(
                    f,
                    "{address} is held by {who}, which this stack did not start: no credentials \
                     sent. Stop that process or move the stack's port (USERSTREAM_*_PORT), then \
                     `userstream stack up`"
                )
            }
        }
    }
}

impl std::error::Error for ForeignListener {}

/// What the check needs to know about the machine; [`System`] reads it from `/proc`.
pub trait Machine {
    /// Every listening TCP socket.
    fn listening_sockets(&self) -> Vec<ListeningSocket>;
    /// This process's user.
    fn own_uid(&self) -> u32;
    /// The process groups of the stack's running engines; `None` when the state directory
    /// records none (no stack was started from it: engines run elsewhere, e.g. containers).
    fn stack_groups(&self) -> Option<BTreeSet<i32>>;
    /// Who holds the socket `inode`, when this user may see it; the processes of `groups`
    /// (the stack's) are looked at first.
    fn holder(&self, inode: u64, groups: &BTreeSet<i32>) -> Option<Holder>;
}

/// Decides whether a credential may go to `target`:`port`. Pure given the [`Machine`].
pub fn judge(machine: &impl Machine, target: IpAddr, port: u16) -> Result<(), ForeignListener> {
    let address = match target {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        v4 => format!("{v4}:{port}"),
    };
    let sockets: Vec<ListeningSocket> = machine
        .listening_sockets()
        .into_iter()
        .filter(|s| s.port == port && reaches(s.address, target))
        .collect();
    if sockets.is_empty() {
        return Ok(());
    }
    let own = machine.own_uid();
    if let Some(foreign) = sockets.iter().find(|s| s.uid != own) {
        return Err(ForeignListener::OtherUser {
            address,
            uid: foreign.uid,
        });
    }
    let Some(groups) = machine.stack_groups() else {
        return Ok(());
    };
    for socket in &sockets {
        let holder = machine.holder(socket.inode, &groups);
        if !matches!(&holder, Some(h) if groups.contains(&h.process_group)) {
            return Err(ForeignListener::NotTheStack { address, holder });
        }
    }
    Ok(())
}

/// The machine this process runs on, with the stack whose pid files are in `run_dir`.
pub struct System {
    run_dir: PathBuf,
}

impl System {
    /// The machine, judged against the stack whose pid files are in `run_dir`.
    pub fn new(run_dir: impl Into<PathBuf>) -> Self {
        Self {
            run_dir: run_dir.into(),
        }
    }
}

impl Machine for System {
    fn listening_sockets(&self) -> Vec<ListeningSocket> {
        ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|table| fs::read_to_string(table).ok())
            .flat_map(|text| parse_proc_net_tcp(&text))
            .collect()
    }

    fn own_uid(&self) -> u32 {
        fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
    }

    fn stack_groups(&self) -> Option<BTreeSet<i32>> {
        let entries = fs::read_dir(&self.run_dir).ok()?;
        let groups: BTreeSet<i32> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "pid"))
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .filter_map(|text| live_pid(&text))
            .collect();
        (!groups.is_empty()).then_some(groups)
    }

    fn holder(&self, inode: u64, groups: &BTreeSet<i32>) -> Option<Holder> {
        let link = PathBuf::from(format!("socket:[{inode}]"));
        let pids: Vec<i32> = fs::read_dir("/proc")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .collect();
        // The stack's engines first: their fds are where the socket almost always is, and
        // reading every process's fds costs milliseconds on a busy machine. (A partition, not
        // a sort: processes come and go while we look, and a sort whose keys change under it
        // may panic.)
        let (stack, others): (Vec<i32>, Vec<i32>) = pids
            .into_iter()
            .partition(|pid| stat_fields(*pid).is_some_and(|(group, _)| groups.contains(&group)));
        stack.into_iter().chain(others).find_map(|pid| {
            let holds = fs::read_dir(format!("/proc/{pid}/fd"))
                .ok()?
                .filter_map(Result::ok)
                .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l == link));
            holds.then(|| holder_of(pid)).flatten()
        })
    }
}

/// The pid of a pid file (`"<pid> <start ticks>"`) when that process still runs with the
/// start time recorded: a recycled pid is not the stack's.
fn live_pid(pid_file: &str) -> Option<i32> {
    let mut parts = pid_file.split_whitespace();
    let pid: i32 = parts.next()?.parse().ok()?;
    let recorded: u64 = parts.next()?.parse().ok()?;
    let (_, started) = stat_fields(pid)?;
    (started == recorded).then_some(pid)
}

/// Process group and start time (clock ticks) of `pid`, from `/proc/<pid>/stat`. The command
/// name may hold spaces and parentheses, so fields are counted from the last `)`.
fn stat_fields(pid: i32) -> Option<(i32, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some((fields.get(2)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

fn holder_of(pid: i32) -> Option<Holder> {
    let (process_group, _) = stat_fields(pid)?;
    let command = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    Some(Holder {
        pid,
        process_group,
        command: command.trim().to_owned(),
    })
}

/// Checks `host`:`port` before a credential goes there, against the stack whose pid files are
/// in `run_dir`. Only loopback hosts (`127.0.0.0/8`, `::1`, `localhost`) are checked.
pub fn check(host: &str, port: u16, run_dir: &Path) -> Result<(), ForeignListener> {
    let target = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => match other.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return Ok(()),
        },
    };
    if !target.is_loopback() {
        return Ok(());
    }
    judge(&System::new(run_dir), target, port)
}

/// [`check`] for a `host:port` address (a Cassandra contact point, Kafka bootstrap server).
pub fn check_address(address: &str, run_dir: &Path) -> Result<(), ForeignListener> {
    let Some((host, port)) = address.rsplit_once(':') else {
        return Ok(());
    };
    match port.parse() {
        Ok(port) => check(host, port, run_dir),
        Err(_) => Ok(()),
    }
}

/// [`check`] for a URL (`http://…`, `sc://…`); a URL without a host or port is left alone.
pub fn check_url(url: &str, run_dir: &Path) -> Result<(), ForeignListener> {
    match url::Url::parse(url) {
        Ok(url) => match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => check(host, port, run_dir),
            _ => Ok(()),
        },
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4A52 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0000000000000000 100 0 0 10 0
   1: 0100007F:4A52 0100007F:D2E4 01 00000000:00000000 00:00000000 00000000     0        0 102 1 0000000000000000 20 4 30 10 -1
   2: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 103 1 0000000000000000 100 0 0 10 0
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:3A98 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 201 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     7        0 202 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn listening_sockets_are_read_with_their_owner_and_inode() {
        let sockets = parse_proc_net_tcp(TCP);
        assert_eq!(
            sockets,
            vec![
                ListeningSocket {
                    address: "127.0.0.1".parse().unwrap(),
                    port: 19026,
                    uid: 0,
                    inode: 101
                },
                ListeningSocket {
                    address: "0.0.0.0".parse().unwrap(),
                    port: 8080,
                    uid: 1000,
                    inode: 103
                },
            ],
            "the established connection (state 01) is not a listener"
        );
        let six = parse_proc_net_tcp(TCP6);
        assert_eq!(six[0].address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(six[0].port, 15000);
        assert_eq!(
            six[1].address,
            "::ffff:127.0.0.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(six[1].uid, 7);
    }

    struct Fake {
        sockets: Vec<ListeningSocket>,
        groups: Option<BTreeSet<i32>>,
        holders: Vec<(u64, Holder)>,
    }

    impl Machine for Fake {
        fn listening_sockets(&self) -> Vec<ListeningSocket> {
            self.sockets.clone()
        }
        fn own_uid(&self) -> u32 {
            0
        }
        fn stack_groups(&self) -> Option<BTreeSet<i32>> {
            self.groups.clone()
        }
        fn holder(&self, inode: u64, _groups: &BTreeSet<i32>) -> Option<Holder> {
            self.holders
                .iter()
                .find(|(i, _)| *i == inode)
                .map(|(_, h)| h.clone())
        }
    }

    fn socket(address: &str, port: u16, uid: u32, inode: u64) -> ListeningSocket {
        ListeningSocket {
            address: address.parse().unwrap(),
            port,
            uid,
            inode,
        }
    }

    fn holder(pid: i32, group: i32) -> Holder {
        Holder {
            pid,
            process_group: group,
            command: "java".into(),
        }
    }

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn the_stack_s_engine_may_have_the_credential() {
        let machine = Fake {
            sockets: vec![socket("127.0.0.1", 9042, 0, 5)],
            groups: Some([40].into()),
            holders: vec![(5, holder(41, 40))],
        };
        assert_eq!(judge(&machine, LOOPBACK, 9042), Ok(()));
        // Nothing listening: the connection is refused before anything is sent.
        assert_eq!(judge(&machine, LOOPBACK, 9043), Ok(()));
    }

    #[test]
    fn another_user_s_socket_gets_nothing_even_on_the_wildcard_address() {
        for bound in ["127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1"] {
            let machine = Fake {
                sockets: vec![socket(bound, 9042, 1000, 5)],
                groups: Some([40].into()),
                holders: vec![],
            };
            assert!(
                matches!(
                    judge(&machine, LOOPBACK, 9042),
                    Err(ForeignListener::OtherUser { uid: 1000, .. })
                ),
                "{bound}"
            );
        }
    }

    #[test]
    fn a_process_the_stack_did_not_start_gets_nothing() {
        let machine = Fake {
            sockets: vec![socket("127.0.0.1", 9042, 0, 5)],
            groups: Some([40].into()),
            holders: vec![(5, holder(77, 77))],
        };
        let refused = judge(&machine, LOOPBACK, 9042).unwrap_err();
        assert!(refused.to_string().contains("pid 77 (`java`)"), "{refused}");
        // Unseen holder: refused too.
        let unseen = Fake {
            holders: vec![],
            ..machine
        };
        assert!(judge(&unseen, LOOPBACK, 9042).is_err());
    }

    #[test]
    fn without_pid_files_only_the_owner_is_checked() {
        let machine = Fake {
            sockets: vec![socket("127.0.0.1", 9042, 0, 5)],
            groups: None,
            holders: vec![],
        };
        assert_eq!(judge(&machine, LOOPBACK, 9042), Ok(()));
    }

    #[test]
    fn sockets_on_other_addresses_do_not_matter() {
        let machine = Fake {
            sockets: vec![socket("10.1.0.2", 9042, 1000, 5)],
            groups: Some([40].into()),
            holders: vec![],
        };
        assert_eq!(judge(&machine, LOOPBACK, 9042), Ok(()));
    }

    #[test]
    fn only_loopback_hosts_are_checked() {
        let nowhere = Path::new("/nonexistent");
        assert_eq!(check("cassandra.example", 9042, nowhere), Ok(()));
        assert_eq!(check_address("10.0.0.1:9042", nowhere), Ok(()));
        assert_eq!(check_url("http://10.0.0.1:8081/x", nowhere), Ok(()));
    }
}
