// Test harness: a real NFS server (nfs-ganesha with the VFS FSAL, Debian's
// ganesha.nfsd) on 127.0.0.1, exporting a fresh temporary directory over
// NFSv3, started once per test process on free ports.
//
//   auto server = nfs_server::instance();          // starts it on first use
//   auto file = nfs_file::open((*server)->url("wal-1"), size);
//   (*server)->kill_server();                      // SIGKILL, as a crash
//   (*server)->start();                            // same ports, same export
//
// rpcbind must run before ganesha (it registers there, although clients here
// never use the portmapper: URLs carry nfsport and mountport). If nothing
// answers on 127.0.0.1:111, `rpcbind -w` is started and left running (it is a
// system service, shared by every test process; several ganesha instances on
// different ports coexist, the last to start owns the registration).
//
// Everything of one server -- ganesha.conf, ganesha.log, the pid file, the
// NFSv4 recovery directory and the exported directory -- lives in one temp
// directory, removed when the process exits. Ganesha runs in the foreground
// as a child with PR_SET_PDEATHSIG(SIGKILL), so it dies with the test process
// even when that process is killed (note: PDEATHSIG fires when the forking
// *thread* exits; start() is meant for the test's main thread).
//
// The binary is $FLOE_GANESHA, else ganesha.nfsd from /usr/bin or /usr/sbin.
// Starts are serialised across processes with flock(/tmp/floe-nfs-ganesha-
// start.lock) and retried when ganesha exits at start, because concurrent
// starts race on the rpcbind registration. If the server cannot be started, start() returns an
// error with the tail of its log and tests fail: they never skip.
//
// Thread-safety: instance() is safe from any thread; kill_server(), start()
// and stop() are for the test's main thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.h"
#include "base/testing/loopback.h"

namespace floe::wal_test {

class nfs_server {
public:
    // The process-wide server, started on first use.
    static result<nfs_server*> instance();
    ~nfs_server();

    // nfs:// URL of `name` in the exported directory (NFSv3, fixed ports).
    std::string url(const std::string& name) const;
    // nfs:// URL of the exported directory itself.
    std::string export_url() const;
    const std::string& export_dir() const { return _export_dir; }
    uint16_t nfs_port() const { return _nfs_port; }
    pid_t pid() const { return _pid; }

    // Starts ganesha (again) on the same ports and export and waits until a
    // libnfs mount succeeds.
    status start();
    // SIGKILL, like a crash of the server machine's NFS service.
    void kill_server();
    // SIGSTOP / SIGCONT: a server that stops answering without closing sockets.
    void freeze();
    void thaw();
    // SIGTERM, then SIGKILL if it does not exit within 5 s.
    void stop();
    std::string log_tail() const;

private:
    nfs_server() = default;
    status prepare();
    status write_config() const;
    // One attempt; `exited` tells whether ganesha exited by itself (worth retrying).
    status start_once(bool& exited);

    pid_t _pid = -1;
    uint16_t _nfs_port = 0;
    uint16_t _mount_port = 0;
    std::string _dir;
    std::string _export_dir;
    std::string _log_path;
};

}  // namespace floe::wal_test
