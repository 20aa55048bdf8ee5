// The signals that stop a refresher — SIGTERM (systemd, kill), SIGINT (Ctrl-C), SIGHUP (the
// terminal went away; the daemon's reload) — held back while a refresh may be in flight, so
// that a stop never lands between the token server's answer and its durable save.
// Guarantees:
// - From the moment a DeferredStopSignals is made, those signals are blocked in the thread
//   that made it and in every thread it starts afterwards (curl's resolver threads
//   included), for the rest of the process's life: one that arrives stays pending, it
//   neither interrupts a system call nor ends the process. Make it before any thread starts.
// - wait() sleeps until one arrives and returns it (the daemon's main thread); take() returns
//   one already pending without waiting, 0 when none (`once`, after each refresh).
// - Nothing is unblocked again: a late signal must not kill a process that has finished its
//   work and is about to exit with its own code (after take() said what to exit with).
// - Child processes start with an empty mask (child_process.cpp), so they stop as usual.
// Callers: daemon.cpp (`run`, for its whole life), main.cpp (`once`).
#pragma once

#include <signal.h>

namespace ckh {

// What to do with a stop signal the process inherited as ignored (nohup's SIGHUP, SIGINT of
// a background job in a script): `once` leaves it ignored, as its caller asked; the daemon
// takes every one (SIGHUP reloads even under nohup, as it always did).
enum class InheritedIgnore { stays_ignored, deferred_too };

class DeferredStopSignals {
 public:
  explicit DeferredStopSignals(InheritedIgnore ignored = InheritedIgnore::deferred_too);
  DeferredStopSignals(const DeferredStopSignals&) = delete;
  DeferredStopSignals& operator=(const DeferredStopSignals&) = delete;

  int wait() const;
  int take() const;

 private:
  sigset_t signals_{};
};

// The exit status of a command that stopped for this signal: 128 + its number (143 for
// SIGTERM, 130 for SIGINT, 129 for SIGHUP), as a shell reports a process it killed.
constexpr int exit_code_for_signal(int signal_number) {
  return 128 + signal_number;
}

}  // namespace ckh
