export interface SingleFlight {
  /** Runs the task, or joins the run in progress and asks for one more run after it. */
  run(): Promise<void>
  /** Resolves when no run is in progress; starts none. */
  idle(): Promise<void>
}

/**
 * Runs `task` one at a time. A call while it runs gets the running promise, and the task runs
 * once more after it (the call may have brought new work), so no work is left behind and no
 * two runs overlap (two overlapping runs could send one email twice). `task` must not reject.
 */
export function singleFlight(task: () => Promise<void>): SingleFlight {
  let running: Promise<void> | undefined
  let again = false
  return {
    run() {
      if (running) {
        again = true
        return running
      }
      running = (async () => {
        try {
          do {
            again = false
            await task()
          } while (again)
        } finally {
          running = undefined
        }
      })()
      return running
    },
    idle() {
      return running ?? Promise.resolve()
    },
  }
}
