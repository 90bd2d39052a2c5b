// Sign up and log in.

import * as api from './api.js';
import { h, replace } from './dom.js';
import { loggedIn } from './app.js';

let uid = 0;
function field(label, attrs) {
  const id = `f${++uid}`;
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, ...attrs }));
}

export function renderAuth(root, mode, invite, notice = null) {
  const register = mode === 'register';
  const error = h('p', { class: 'form-error', role: 'alert' });
  const username = field('Username', {
    name: 'username', autocomplete: 'username', required: true, minlength: 2, maxlength: 32,
    title: 'Letters, digits, _ . and -', spellcheck: 'false', autocapitalize: 'none',
  });
  const display = register
    ? field('Display name (optional)', { name: 'display_name', autocomplete: 'nickname', maxlength: 32 })
    : null;
  const password = field('Password', {
    name: 'password', type: 'password', required: true, minlength: register ? 8 : 1, maxlength: 256,
    autocomplete: register ? 'new-password' : 'current-password',
  });
  const submit = h('button', { class: 'btn btn-primary btn-wide', type: 'submit' }, register ? 'Create account' : 'Log in');
  const form = h('form', { class: 'auth-form', novalidate: false },
    username, display, password, error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const data = Object.fromEntries(new FormData(form));
    submit.disabled = true;
    try {
      if (register) {
        await api.post('/auth/register', {
          username: data.username, password: data.password, display_name: data.display_name || undefined,
        });
      }
      const res = await api.post('/auth/login', { username: data.username, password: data.password, client: 'web' });
      loggedIn(res.token);
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  });
  const switchLink = register
    ? h('p', {}, 'Already have an account? ', h('a', { href: '/login', 'data-nav': '' }, 'Log in'))
    : h('p', {}, 'New here? ', h('a', { href: '/register', 'data-nav': '' }, 'Create an account'));
  switchLink.querySelector('a').addEventListener('click', (e) => {
    e.preventDefault();
    history.pushState(null, '', register ? '/login' : '/register');
    renderAuth(root, register ? 'login' : 'register', invite);
  });
  root.className = 'auth';
  replace(root, h('main', { class: 'auth-card' },
    h('div', { class: 'brand' }, h('img', { src: '/assets/icon.svg', alt: '', width: 40, height: 40 }), h('span', {}, 'Hearth')),
    h('h1', {}, register ? 'Create an account' : 'Welcome back'),
    invite ? h('p', { class: 'notice' }, register ? 'Create an account to accept your invite.' : 'Log in to accept your invite.') : null,
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    form,
    switchLink));
  document.title = register ? 'Create an account · Hearth' : 'Log in · Hearth';
  form.querySelector('input').focus();
}
