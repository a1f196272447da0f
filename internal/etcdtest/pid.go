package etcdtest

// Pid returns the process id of the running etcd, 0 when it is stopped
// (bench reads its CPU time from /proc).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}
