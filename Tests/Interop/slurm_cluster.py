"""A real single-node Slurm cluster for the tests (PLATFORM.md): munged, slurmctld and slurmd
started with a generated slurm.conf (this machine's CPUs, cons_tres, root as SlurmUser,
state, spool and logs under a temporary folder, its own ports), stopped by pid afterwards."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _munge_works():
    munge = subprocess.run(["munge", "-n"], capture_output=True)
    if munge.returncode != 0:
        return False
    return subprocess.run(["unmunge"], input=munge.stdout, capture_output=True).returncode == 0


class SlurmCluster:
    def __init__(self, folder):
        self.folder = str(folder)
        self.conf = os.path.join(self.folder, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        self.pid_files = []
        self.munged_pid = None

    def start(self):
        for tool in ["munged", "slurmctld", "slurmd", "sbatch"]:
            if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
                raise RuntimeError(f"{tool} is not installed: make deps installs slurm-wlm and munge")
        self._start_munge()
        host = socket.gethostname()
        for sub in ["state", "spool"]:
            os.makedirs(os.path.join(self.folder, sub), exist_ok=True)
        ctld_pid = os.path.join(self.folder, "slurmctld.pid")
        slurmd_pid = os.path.join(self.folder, "slurmd.pid")
        with open(self.conf, "w") as conf:
            conf.write(f"""ClusterName=amalgamtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation={self.folder}/state
SlurmdSpoolDir={self.folder}/spool
SlurmctldPidFile={ctld_pid}
SlurmdPidFile={slurmd_pid}
SlurmctldLogFile={self.folder}/slurmctld.log
SlurmdLogFile={self.folder}/slurmd.log
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
NodeName={host} CPUs={os.cpu_count() or 1} RealMemory=1000 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        self.pid_files = [slurmd_pid, ctld_pid]
        subprocess.run(["/usr/sbin/slurmctld", "-f", self.conf], env=self.env, check=True)
        subprocess.run(["/usr/sbin/slurmd", "-f", self.conf], env=self.env, check=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
            if state.returncode == 0 and state.stdout.strip() in ("idle", "mixed", "allocated"):
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the test Slurm cluster did not come up; see {self.folder}/*.log")

    def _start_munge(self):
        if _munge_works():
            return
        key = "/etc/munge/munge.key"
        munge_user = pwd.getpwnam("munge")
        if not os.path.exists(key):
            os.makedirs("/etc/munge", exist_ok=True)
            with open(key, "wb") as file:
                file.write(os.urandom(1024))
            os.chown(key, munge_user.pw_uid, munge_user.pw_gid)
            os.chmod(key, 0o400)
        for folder in ["/run/munge", "/var/log/munge", "/var/lib/munge"]:
            os.makedirs(folder, exist_ok=True)
            os.chown(folder, munge_user.pw_uid, munge_user.pw_gid)
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
        for _ in range(50):
            if _munge_works():
                with open("/run/munge/munged.pid") as file:
                    self.munged_pid = int(file.read().strip())
                return
            time.sleep(0.1)
        raise RuntimeError("munged did not start")

    def stop(self):
        for pid_file in self.pid_files + ([None] if self.munged_pid else []):
            try:
                pid = self.munged_pid if pid_file is None else int(open(pid_file).read().strip())
                os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError):
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except OSError:
                    break
                time.sleep(0.05)
