//! A host's position in a play's task tree: blocks with rescue/always, role task lists and
//! dynamically included files, as a stack of frames.
//!
//! The cursor only walks; the play runner decides what a task's outcome means and tells the
//! cursor (`fail`), so block semantics live in one place.

use std::sync::Arc;

use drover_playbook::{Task, TaskKind, TaskList, Vars};
use minijinja::Value;

/// A task to run next on a host, with the context its frames give it.
#[derive(Clone)]
pub struct TaskRef {
    pub list: TaskList,
    pub idx: usize,
    /// Parameters of enclosing includes, outermost first.
    pub include_params: Vec<Arc<Vars>>,
    /// `ansible_failed_task`/`ansible_failed_result` inside a rescue.
    pub failure: Option<Arc<(Value, Value)>>,
    /// The task's place in the play's order of tasks (sections, blocks with their rescue and
    /// always sections, included files right after their include), compared lexicographically:
    /// the linear strategy runs the earliest task any host is at, as Ansible does.
    pub order: Vec<u32>,
}

impl TaskRef {
    pub fn task(&self) -> &Task {
        &self.list[self.idx]
    }

    /// Identity of the task for lockstep scheduling: the same task object in the same list.
    pub fn key(&self) -> (usize, usize) {
        (Arc::as_ptr(&self.list) as usize, self.idx)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    Block = 0,
    Rescue = 1,
    Always = 2,
}

struct Frame {
    tasks: TaskList,
    idx: usize,
    params: Vec<Arc<Vars>>,
    block: Option<BlockFrame>,
    /// The order of the entry this frame came from (see [`TaskRef::order`]).
    origin: Vec<u32>,
    /// For a role that runs once per play: its identity, recorded when it completes.
    role_once: Option<RoleOnce>,
    /// The frame holds a role's task list (`roles:`, `import_role`, `include_role`).
    role: bool,
}

/// A once-per-play role being walked by a host.
struct RoleOnce {
    key: String,
    /// One of the role's tasks ran for this host (ok, changed or failed; not skipped, not
    /// unreachable, not only run for another host under `run_once`). As in Ansible, only then
    /// does reaching the role's end complete it; a role whose tasks were all skipped may run
    /// again later in the play.
    ran: bool,
}

impl Frame {
    /// The order of this frame's task at `idx`.
    fn order_at(&self, idx: usize) -> Vec<u32> {
        let mut order = self.origin.clone();
        if let Some(b) = &self.block {
            order.push(b.stage as u32);
        }
        order.push(u32::try_from(idx).unwrap_or(u32::MAX));
        order
    }
}

struct BlockFrame {
    stage: Stage,
    rescue: TaskList,
    always: TaskList,
    /// A failure is waiting for `always` to finish before it propagates.
    pending_failure: bool,
    failure: Option<Arc<(Value, Value)>>,
}

/// What the cursor reports back when a failure was handled.
#[derive(Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// A rescue section takes over: the failure counts as rescued, the host goes on.
    Rescued,
    /// Only an always section runs; the failure stands afterwards.
    Always,
    /// No enclosing block handles it: the host is done for the play.
    Unhandled,
}

pub struct Cursor {
    stack: Vec<Frame>,
    /// Roles (once-per-play ones) that ran to their end for this host.
    completed_roles: Vec<String>,
    /// A failure came out of an `always` section with no outer block to take it.
    failed_after_always: bool,
}

impl Cursor {
    pub fn new(sections: &[TaskList]) -> Cursor {
        // Sections run in order: push them reversed so the first is on top.
        let stack = sections
            .iter()
            .enumerate()
            .rev()
            .map(|(i, tasks)| Frame {
                tasks: tasks.clone(),
                idx: 0,
                params: Vec::new(),
                block: None,
                origin: vec![u32::try_from(i).unwrap_or(u32::MAX)],
                role_once: None,
                role: false,
            })
            .collect();
        Cursor {
            stack,
            completed_roles: Vec::new(),
            failed_after_always: false,
        }
    }

    /// The task just run (after `advance`) ran for this host: it marks the innermost
    /// once-per-play role around it as having run.
    pub fn note_ran(&mut self) {
        if let Some(role) = self
            .stack
            .iter_mut()
            .rev()
            .find_map(|f| f.role_once.as_mut())
        {
            role.ran = true;
        }
    }

    /// Whether a failure re-raised after an `always` section ended the host's play (taken).
    pub fn take_failed_after_always(&mut self) -> bool {
        std::mem::take(&mut self.failed_after_always)
    }

    /// The next runnable task, entering blocks and role lists; `None` when done.
    pub fn peek(&mut self) -> Option<TaskRef> {
        loop {
            let frame = self.stack.last_mut()?;
            if frame.idx >= frame.tasks.len() {
                self.finish_frame();
                continue;
            }
            let task = &frame.tasks[frame.idx];
            match &task.kind {
                TaskKind::Block {
                    block,
                    rescue,
                    always,
                } => {
                    let (block, rescue, always) = (block.clone(), rescue.clone(), always.clone());
                    let params = frame.params.clone();
                    let origin = frame.order_at(frame.idx);
                    frame.idx += 1;
                    self.stack.push(Frame {
                        tasks: block,
                        idx: 0,
                        params,
                        origin,
                        role_once: None,
                        role: false,
                        block: Some(BlockFrame {
                            stage: Stage::Block,
                            rescue,
                            always,
                            pending_failure: false,
                            failure: None,
                        }),
                    });
                }
                TaskKind::RoleTasks { tasks, scope } => {
                    let role_once = scope.once.then(|| RoleOnce {
                        // Ansible tells roles apart by parameters and conditions too.
                        key: format!(
                            "{}|{:?}|{:?}",
                            scope.role.path.display(),
                            scope.params,
                            task.keywords.when
                        ),
                        ran: false,
                    });
                    let tasks = tasks.clone();
                    let params = frame.params.clone();
                    let origin = frame.order_at(frame.idx);
                    frame.idx += 1;
                    // A role that already completed in this play is not run again (Ansible's
                    // deduplication of roles and dependencies).
                    if role_once
                        .as_ref()
                        .is_some_and(|r| self.completed_roles.contains(&r.key))
                    {
                        continue;
                    }
                    self.stack.push(Frame {
                        tasks,
                        idx: 0,
                        params,
                        block: None,
                        origin,
                        role_once,
                        role: true,
                    });
                }
                _ => {
                    let (list, idx, include_params, order) = (
                        frame.tasks.clone(),
                        frame.idx,
                        frame.params.clone(),
                        frame.order_at(frame.idx),
                    );
                    return Some(TaskRef {
                        list,
                        idx,
                        include_params,
                        failure: self.current_failure(),
                        order,
                    });
                }
            }
        }
    }

    /// `meta: end_role` (after `advance`): leaves the innermost role, as if its task list had
    /// ended (blocks inside the role are left without their always sections, as in Ansible).
    pub fn end_role(&mut self) {
        let Some(depth) = self.stack.iter().rposition(|f| f.role) else {
            return;
        };
        self.stack.truncate(depth + 1);
        if let Some(frame) = self.stack.last_mut() {
            frame.idx = frame.tasks.len();
        }
        self.finish_frame();
    }

    /// Moves past the task returned by `peek`.
    pub fn advance(&mut self) {
        if let Some(frame) = self.stack.last_mut() {
            frame.idx += 1;
        }
    }

    /// Inserts the files of an include to run next (after `advance` past the include task),
    /// one entry per loop item, in order.
    pub fn push_includes(&mut self, files: Vec<(TaskList, Arc<Vars>)>) {
        let (params, origin) = match self.stack.last() {
            Some(f) => (f.params.clone(), f.order_at(f.idx.saturating_sub(1))),
            None => (Vec::new(), Vec::new()),
        };
        for (i, (tasks, p)) in files.into_iter().enumerate().rev() {
            let mut all = params.clone();
            all.push(p);
            let mut origin = origin.clone();
            origin.push(u32::try_from(i).unwrap_or(u32::MAX));
            self.stack.push(Frame {
                tasks,
                idx: 0,
                params: all,
                block: None,
                origin,
                role_once: None,
                role: false,
            });
        }
    }

    /// The task just run failed (after `advance`): enter the nearest rescue/always.
    pub fn fail(&mut self, failed_task: Value, result: Value) -> FailOutcome {
        let failure = Arc::new((failed_task, result));
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return FailOutcome::Unhandled;
            };
            let Some(block) = frame.block.as_mut() else {
                self.stack.pop();
                continue;
            };
            match block.stage {
                Stage::Block if !block.rescue.is_empty() => {
                    block.stage = Stage::Rescue;
                    block.failure = Some(failure);
                    frame.tasks = block.rescue.clone();
                    frame.idx = 0;
                    return FailOutcome::Rescued;
                }
                Stage::Block | Stage::Rescue if !block.always.is_empty() => {
                    block.stage = Stage::Always;
                    block.pending_failure = true;
                    block.failure = Some(failure);
                    frame.tasks = block.always.clone();
                    frame.idx = 0;
                    return FailOutcome::Always;
                }
                _ => {
                    self.stack.pop();
                }
            }
        }
    }

    /// `meta: clear_host_errors`: failures waiting for an `always` section to finish are
    /// forgotten, so the host goes on after it.
    pub fn clear_errors(&mut self) {
        for block in self.stack.iter_mut().filter_map(|f| f.block.as_mut()) {
            block.pending_failure = false;
        }
        self.failed_after_always = false;
    }

    /// Stops the host's play: nothing more runs (`meta: end_host`, unreachable).
    pub fn clear(&mut self) {
        self.stack.clear();
    }

    fn current_failure(&self) -> Option<Arc<(Value, Value)>> {
        self.stack
            .iter()
            .rev()
            .filter_map(|f| f.block.as_ref())
            .find_map(|b| b.failure.clone())
    }

    /// The top frame ran out of tasks.
    fn finish_frame(&mut self) {
        let Some(frame) = self.stack.last_mut() else {
            return;
        };
        let Some(block) = frame.block.as_mut() else {
            if let Some(role) = frame.role_once.take() {
                if role.ran {
                    self.completed_roles.push(role.key);
                }
            }
            self.stack.pop();
            return;
        };
        match block.stage {
            Stage::Block | Stage::Rescue => {
                if block.stage == Stage::Rescue {
                    block.failure = None;
                }
                if block.always.is_empty() {
                    self.stack.pop();
                } else {
                    block.stage = Stage::Always;
                    frame.tasks = block.always.clone();
                    frame.idx = 0;
                }
            }
            Stage::Always => {
                let pending = block.pending_failure;
                let failure = block.failure.clone();
                self.stack.pop();
                if pending {
                    let (t, r) = failure
                        .map(|f| (f.0.clone(), f.1.clone()))
                        .unwrap_or((Value::UNDEFINED, Value::UNDEFINED));
                    if self.fail(t, r) == FailOutcome::Unhandled {
                        // The host's play ends; mark so the runner knows.
                        self.stack.clear();
                        self.failed_after_always = true;
                    }
                }
            }
        }
    }
}
